// Where things live under FLOE_HOME. Each service has its own database; artifacts are shared.
import { join } from 'node:path';

export interface FloeDirs {
  home: string;
  artifacts: string;
  database(service: string): string;
  data: string;
}

export function floeDirs(home: string): FloeDirs {
  return {
    home,
    artifacts: join(home, 'artifacts'),
    database: (service) => join(home, 'db', `${service}.sqlite`),
    data: join(home, 'data'),
  };
}

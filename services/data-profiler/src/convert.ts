// Library results → protobuf messages.
import { dataProfilerV1 as dp } from '@floe/contracts';
import type { BlockScore } from '@floe/adaptation';
import type {
  ColumnProfile,
  DriftReport,
  FeatureDrift,
  ImageProfile,
  TabularProfile,
  TextProfile,
  Verdict,
} from '@floe/profiling';

const VERDICT: Record<Verdict, dp.DriftVerdict> = {
  stable: dp.DriftVerdict.DRIFT_VERDICT_STABLE,
  moderate: dp.DriftVerdict.DRIFT_VERDICT_MODERATE,
  shifted: dp.DriftVerdict.DRIFT_VERDICT_SHIFTED,
};

export function textProfile(t: TextProfile): dp.TextProfile {
  return {
    byteCounts: t.byteCounts,
    byteEntropyBits: t.byteEntropyBits,
    charEntropyBits: t.charEntropyBits,
    distinctChars: t.distinctChars,
    lengthHistogram: dp.Histogram.fromPartial({ edges: t.lengthHistogram.edges, counts: t.lengthHistogram.counts }),
    lengthQuantiles: t.lengthQuantiles,
    vocabularySize: t.vocabularySize,
    bigramCoverage: t.bigramCoverage,
    duplicateRate: t.duplicateRate,
    invalidUtf8Rate: t.invalidUtf8Rate,
  };
}

function column(c: ColumnProfile): dp.ColumnProfile {
  return {
    name: c.name,
    inferredType: c.inferredType,
    missing: c.missing,
    infinite: c.infinite,
    distinct: c.distinct,
    mean: c.mean,
    std: c.std,
    quantiles: c.quantiles,
    histogram: {
      edges: c.histogram.edges,
      labels: c.histogram.labels,
      counts: c.histogram.counts,
      otherCategories: c.histogram.otherCategories ?? 0,
      otherCount: c.histogram.otherCount ?? 0,
    },
  };
}

export function tabularProfile(t: TabularProfile): dp.TabularProfile {
  const k = t.correlations.names.length;
  return {
    columns: t.columns.map(column),
    targets: t.targets.map(column),
    rowsWithoutTarget: t.rowsWithoutTarget,
    correlations: {
      rows: k,
      cols: k,
      values: t.correlations.values,
      rowLabels: t.correlations.names,
      colLabels: t.correlations.names,
    },
  };
}

export function imageProfile(p: ImageProfile): dp.ImageProfile {
  return {
    height: p.height,
    width: p.width,
    channels: p.channels,
    channelMeans: p.channelMeans,
    channelStds: p.channelStds,
    classCounts: p.classCounts,
    resizedImages: p.resizedImages,
  };
}

function feature(f: FeatureDrift): dp.FeatureDrift {
  return { ...f, datetime: f.datetime ?? false, identifier: f.identifier ?? false, verdict: VERDICT[f.verdict] };
}

export function driftReport(r: DriftReport): dp.DriftReport {
  return {
    features: r.features.map(feature),
    verdict: VERDICT[r.verdict],
    overallPsi: r.overallPsi,
    onlyInReference: r.onlyInReference,
    onlyInCurrent: r.onlyInCurrent,
  };
}

export function blockScore(b: BlockScore): dp.BlockScore {
  return {
    blockId: b.blockId,
    angularDistanceLast: b.angularDistanceLast,
    angularDistanceAll: b.angularDistanceAll,
    gradNorm: b.gradNorm,
    fisher: b.fisher,
  };
}

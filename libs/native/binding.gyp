{
  "targets": [
    {
      "target_name": "floe_native",
      "sources": ["csrc/gemm.cc", "csrc/transpose.cc", "csrc/conv.cc", "csrc/elementwise.cc", "csrc/scan.cc", "csrc/fused.cc", "csrc/binding.cc"],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-exceptions", "-funroll-loops", "-ffp-contract=fast", "-fno-math-errno"],
      "cflags_cc!": ["-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "ldflags": ["-pthread"],
      "cflags": ["-pthread"]
    }
  ]
}

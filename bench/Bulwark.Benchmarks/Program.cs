using BenchmarkDotNet.Running;

// Runs the benchmarks chosen on the command line, for example `-- --filter '*'`; see bench/README.md.
BenchmarkSwitcher.FromAssembly(typeof(Bulwark.Benchmarks.AuditedWriteBenchmarks).Assembly).Run(args);

using Bulwark.Cli.Commands;

return await BulwarkCli.RunAsync(args, Console.Out, Console.Error, Environment.GetEnvironmentVariable).ConfigureAwait(false);

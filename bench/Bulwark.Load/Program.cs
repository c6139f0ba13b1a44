// Bulwark.Load: whole-service measurements that print percentiles and write JSON (bench/README.md).
//   dotnet run -c Release --project bench/Bulwark.Load -- [OUT.json] [N...] [options]        kill propagation (KillPropagation.cs)
//   dotnet run -c Release --project bench/Bulwark.Load -- check [OUT.json] [options]         POST /v1/throttles/{name}/check
//                                                                                              against a bare endpoint (ThrottleCheck.cs)
//   dotnet run -c Release --project bench/Bulwark.Load -- webhooks [OUT.json] [options]      POST /v1/webhooks/{source} against a
//                                                                                              bare verifying endpoint (WebhookIngest.cs)
//   dotnet run -c Release --project bench/Bulwark.Load -- events [OUT.json] [options]        POST /v1/events batches (EventsIngest.cs)
//   dotnet run -c Release --project bench/Bulwark.Load -- detection [OUT.json] [options]     ack → stored detection under load,
//                                                                                              and detection state per account (DetectionLatency.cs)
//   dotnet run -c Release --project bench/Bulwark.Load -- response [OUT.json] [options]      ack of an account takeover's first event
//                                                                                              → last containment call of its playbook
//                                                                                              at a loopback platform API (ResponseLatency.cs)
//   dotnet run -c Release --project bench/Bulwark.Load -- replay [OUT.json] [options]        POST /v1/events/replay re-normalizing
//                                                                                              every stored snapshot (ReplayRenormalize.cs)
//   any mode with --help prints its usage (Usage.cs).
// `check-server` is not for people: it is the server process that `check`, `webhooks` and `events` start (CheckServer.cs).
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(Usage.For(args.FirstOrDefault(a => !a.StartsWith('-'))));
    return 0;
}

if (args is ["check", ..])
{
    return await ThrottleCheck.RunAsync(args[1..]);
}

if (args is ["webhooks", ..])
{
    return await WebhookIngest.RunAsync(args[1..]);
}

if (args is ["events", ..])
{
    return await EventsIngest.RunAsync(args[1..]);
}

if (args is ["detection", ..])
{
    return await DetectionLatency.RunAsync(args[1..]);
}

if (args is ["response", ..])
{
    return await ResponseLatency.RunAsync(args[1..]);
}

if (args is ["replay", ..])
{
    return await ReplayRenormalize.RunAsync(args[1..]);
}

if (args is [CheckServer.Command, ..])
{
    return await CheckServer.RunAsync(args[1..]);
}

await KillPropagation.RunAsync(args);
return 0;

// The `--help` text of each mode: the usage line from the head of the file that implements it.
internal static class Usage
{
    private const string Run = "dotnet run -c Release --project bench/Bulwark.Load --";

    public static string For(string? mode) => mode switch
    {
        "check" => $$"""
            {{Run}} check [OUT.json] [--concurrency 1,16,64] [--seconds S=4] [--rounds R=3] [--warm-up 5]
                [--client dotnet|wrk] [--in-process] [--seed 42]
            POST /v1/throttles/{name}/check under closed-loop load against a bare endpoint of the same server.
            """,
        "webhooks" => $$"""
            {{Run}} webhooks [OUT.json] [--rates 1000,2500,5000,7500,10000|none] [--concurrency 64,128|none]
                [--seconds S=5] [--rounds R=3] [--warm-up 5] [--connections 512] [--body-bytes 500] [--trace FILE]
                [--normalizer running|paused] [--in-process]
            Signed Standard Webhooks deliveries to POST /v1/webhooks/{source} (stored durably) against a bare endpoint of
            the same server that verifies and answers 204: open loop at fixed rates, then closed loop.
            """,
        "replay" => $$"""
            {{Run}} replay [OUT.json] [--seconds S=5] [--rounds R=3] [--concurrency 128]
            Signed deliveries stored for S seconds by a closed loop and quarantined (the source names the wrong normalizer),
            the source fixed, then R replays that re-normalize all of them (POST /v1/events/replay with renormalize, only
            the metrics consumer rewound): snapshots per second. Round 1 adds every event, later rounds none.
            """,
        "events" => $$"""
            {{Run}} events [OUT.json] [--batches 100,1000,5000] [--pushers 4] [--seconds S=5] [--rounds R=3]
                [--warm-up 3] [--trace FILE] [--in-process]
            NDJSON batches to POST /v1/events, closed loop; events per second appended.
            """,
        "detection" => $$"""
            {{Run}} detection [OUT.json] [--rate 5000] [--seconds 30] [--batch 50] [--accounts 1000000]
                [--memory-accounts 1000000] [--no-load] [--no-memory]
            The default detection pack under load: NDJSON pushes to POST /v1/events at a fixed rate with account takeovers
            and reset floods mixed in; time from the acknowledgement of each completing push to its detection stored.
            Then the engines' retained memory for many active accounts, in this process.
            """,
        "response" => $$"""
            {{Run}} response [OUT.json] [--incidents 600] [--incident-rate 10] [--rate 2000] [--batch 50]
                [--accounts 1000000] [--gap 3] [--pack ato|default] [--shared-ips]
            Account takeovers answered by an auto-run playbook (revoke_tokens and expire_sessions per account through a
            platform connector) under benign NDJSON pushes at a fixed rate: time from the acknowledgement of each
            takeover's first event (an email change, stamped --gap seconds earlier in event time; its token rotation is
            pushed once it is acknowledged) to the last containment call received by a loopback fake platform API, and
            from the completing event's acknowledgement; beside the floor, the same calls made by the client directly.
            --pack ato puts only the takeover rule in force, default the whole default pack. --shared-ips makes each
            measured takeover come from the IP of a warm-up takeover (whose incident has run): it shows what becomes of
            a takeover whose detection merges into an incident that was already answered.
            """,
        _ => $$"""
            {{Run}} [OUT.json] [N...] [--kills K] [--warm-up W] [--in-process] [--verbose] [--allocations | --jit]
                Kill propagation: POST /v1/flags/{key}/kill to N SDK clients holding EMERGENCY_OFF.
            {{Run}} check --help       throttle checks against a bare endpoint
            {{Run}} webhooks --help    webhook ingest against a bare verifying endpoint
            {{Run}} events --help      /v1/events batch ingest
            {{Run}} detection --help   detection latency under load, and detection state per account
            {{Run}} response --help    account takeover to containment under load, through an auto-run playbook
            Reports and how to read them: bench/README.md.
            """,
    };
}

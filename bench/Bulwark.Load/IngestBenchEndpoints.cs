using System.Diagnostics;
using System.Reflection;
using System.Text.Json.Nodes;
using Bulwark.Ingest;
using Bulwark.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

/// <summary>
/// The ingest measurements' endpoints, mapped only in the load tool's server host (<see cref="CheckServer"/>), never in
/// the product:
/// <list type="bullet">
/// <item><c>POST /bench/webhook-bare</c> (anonymous, like <c>/v1/webhooks/{source}</c>): reads the body with the
/// server's own bounded reader, copies the headers as the real endpoint does, verifies the Standard Webhooks signature
/// with <see cref="StandardWebhooksScheme.Instance"/> and the secret in <see cref="SecretVariable"/>, and answers 204
/// without storing anything (401 when the signature does not verify). It carries the real endpoint's raw-body metadata,
/// so the body-limit middleware treats both alike. The difference between the two is then the source lookup, dedupe,
/// the durable snapshot (group commit) and the JSON answer — not the crypto.</item>
/// <item><c>GET /bench/ingest</c> (anonymous): the event store's commits (raw file, event log), snapshot sequence and offset, the normalizer's
/// position, and the server runtime's collections, allocations, pauses and thread-pool state.</item>
/// <item><c>POST /bench/normalizer?paused=true|false</c> (anonymous): shuts or opens the <see cref="NormalizerGate"/>
/// (a diagnostic; there is a gate only when the server was started with it).</item>
/// </list>
/// </summary>
internal static class IngestBenchEndpoints
{
    public const string WebhookBarePath = "/bench/webhook-bare";

    public const string StatsPath = "/bench/ingest";

    /// <summary><c>POST /bench/normalizer?paused=true|false</c>: shuts or opens the <see cref="NormalizerGate"/>, when there is one.</summary>
    public const string NormalizerPath = "/bench/normalizer";

    /// <summary>The server environment variable that holds the benchmark source's secret (<c>whsec_…</c>).</summary>
    public const string SecretVariable = "BULWARK_BENCH_WEBHOOK_SECRET";

    private static readonly Dictionary<string, string> NoQuery = [];

    public static void MapIngestBenchEndpoints(this WebApplication app)
    {
        app.MapGet(StatsPath, Stats).AllowAnonymous();
        app.MapPost(NormalizerPath, (bool paused, IEventStore store) =>
        {
            if (store is not NormalizerGate gate)
            {
                return Results.Conflict("the server was started without " + NormalizerGate.Variable + "=1");
            }

            gate.Paused = paused;
            return Results.NoContent();
        }).AllowAnonymous();
        if (Environment.GetEnvironmentVariable(SecretVariable) is not { Length: > 0 } secret)
        {
            return;
        }

        var secrets = new SchemeSecrets([secret]);
        var readBody = ServerType("Bulwark.Server.Http.BoundedBody").GetMethod("ReadAsync", BindingFlags.Public | BindingFlags.Static)!
            .CreateDelegate<Func<HttpRequest, int, CancellationToken, Task<byte[]?>>>();
        app.MapPost(WebhookBarePath, async (HttpContext context, TimeProvider time) =>
        {
            var request = context.Request;
            var body = await readBody(request, SourceDefinition.DefaultMaxBody, context.RequestAborted);
            if (body is null)
            {
                return Results.StatusCode(StatusCodes.Status413PayloadTooLarge);
            }

            var headers = new Dictionary<string, string>(request.Headers.Count, StringComparer.OrdinalIgnoreCase);
            foreach (var (name, values) in request.Headers)
            {
                headers[name] = values.Count == 1 ? values[0] ?? string.Empty : string.Join(", ", values.ToArray());
            }

            var verification = StandardWebhooksScheme.Instance.Verify(
                new WebhookRequest("POST", headers, NoQuery, body), secrets, time.GetUtcNow(), SourceDefinition.DefaultTolerance);
            return verification.IsVerified ? Results.NoContent() : Results.StatusCode(StatusCodes.Status401Unauthorized);
        })
            .AllowAnonymous()
            .WithMetadata(Activator.CreateInstance(ServerType("Bulwark.Server.Http.RawBodyEndpoint"), (long)SourceDefinition.MaxMaxBody)!);
    }

    /// <summary>
    /// Counters the server does not export: the store's commit count is internal to <c>SqliteEventStore</c> and the
    /// normalizer worker is internal to the server, so they are read by reflection (this host only).
    /// </summary>
    private static JsonObject Stats(IServiceProvider services)
    {
        var gated = services.GetRequiredService<IEventStore>();
        var store = gated is NormalizerGate gate ? gate.Inner : gated;
        var commits = store.GetType().GetProperty("Commits", BindingFlags.NonPublic | BindingFlags.Instance)?.GetValue(store) as long?;
        var logCommits = store.GetType().GetProperty("LogCommits", BindingFlags.NonPublic | BindingFlags.Instance)?.GetValue(store) as long?;
        var normalizer = services.GetService(ServerType("Bulwark.Server.Ingest.NormalizerWorker"));
        var normalized = normalizer?.GetType().GetProperty("Normalized")?.GetValue(normalizer) as long?;
        using var process = Process.GetCurrentProcess();
        return new JsonObject
        {
            ["commits"] = commits,
            ["log_commits"] = logCommits,
            ["last_snapshot_seq"] = store.LastSnapshotSeq,
            ["normalized_seq"] = normalized,
            ["normalizer_paused"] = gated is NormalizerGate { Paused: true },
            ["last_offset"] = store.LastOffset,
            ["gen0"] = GC.CollectionCount(0),
            ["gen1"] = GC.CollectionCount(1),
            ["gen2"] = GC.CollectionCount(2),
            ["gc_pause_ms"] = GC.GetTotalPauseDuration().TotalMilliseconds,
            ["allocated_bytes"] = GC.GetTotalAllocatedBytes(precise: true),
            ["thread_pool_threads"] = ThreadPool.ThreadCount,
            ["thread_pool_completed"] = ThreadPool.CompletedWorkItemCount,
            ["lock_contentions"] = Monitor.LockContentionCount,
            ["cpu_ms"] = process.TotalProcessorTime.TotalMilliseconds,
            ["working_set_bytes"] = process.WorkingSet64,
        };
    }

    private static Type ServerType(string name) => typeof(BulwarkServerExtensions).Assembly.GetType(name, throwOnError: true)!;
}

using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Ingest;
using Bulwark.Server.Ingest;
using Bulwark.TestUtils;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Server.Tests.Ingest;

/// <summary>A test server with test secrets, and helpers to declare sources and wait for the normalizer.</summary>
internal sealed class IngestServer : IAsyncDisposable
{
    private IngestServer(BulwarkTestServer server, TestSecrets secrets)
    {
        Server = server;
        Secrets = secrets;
    }

    public BulwarkTestServer Server { get; }

    public TestSecrets Secrets { get; }

    public IEventStore Events => Server.Services.GetRequiredService<IEventStore>();

    public static async Task<IngestServer> StartAsync(TimeProvider? time = null, Action<IServiceCollection>? services = null)
    {
        var secrets = new TestSecrets();
        var server = await BulwarkTestServer.StartAsync(time: time, services: s =>
        {
            s.AddSingleton<ISecretResolver>(secrets);
            services?.Invoke(s);
        });
        return new IngestServer(server, secrets);
    }

    /// <summary>PUTs a source (its secrets named as env references) and returns the answer.</summary>
    public async Task<JsonObject> PutSourceAsync(string name, JsonObject manifest, HttpStatusCode expected = HttpStatusCode.Created)
    {
        using var admin = Server.CreateAdminClient();
        using var response = await admin.PutAsync($"v1/sources/{name}", BulwarkTestServer.Json(manifest), TestContext.Current.CancellationToken);
        return (await Http.ReadJsonAsync(response, expected)).AsObject();
    }

    /// <summary>A Standard Webhooks source named <paramref name="name"/> with a fresh secret; returns its signer.</summary>
    public async Task<StandardWebhookSigner> StandardSourceAsync(string name, string normalizer = "event-v1", int? maxBody = null)
    {
        var secret = StandardWebhookSigner.NewSecret();
        Secrets["SW_" + name.Replace('-', '_').ToUpperInvariant()] = secret;
        var manifest = new JsonObject
        {
            ["scheme"] = "standard-webhooks",
            ["secrets"] = new JsonArray("env:SW_" + name.Replace('-', '_').ToUpperInvariant()),
            ["normalizer"] = normalizer,
        };
        if (maxBody is { } max)
        {
            manifest["max_body"] = max;
        }

        await PutSourceAsync(name, manifest);
        return new StandardWebhookSigner(secret);
    }

    /// <summary>Waits until the normalizer has recorded every snapshot stored so far (the worker signals; no sleeping).</summary>
    public async Task NormalizedAsync()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await Server.Services.GetRequiredService<NormalizerWorker>().WhenNormalizedAsync(Events.LastSnapshotSeq, timeout.Token);
    }

    public static ByteArrayContent Body(string text, string contentType = "application/json")
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(text));
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        return content;
    }

    public static string Event(string id, string source, string type = "password_reset", string account = "acct_1", string timestamp = "2026-03-02T00:00:00.000Z") =>
        new JsonObject
        {
            ["schema_version"] = "v1",
            ["id"] = id,
            ["source"] = source,
            ["platform"] = "internal",
            ["event_type"] = type,
            ["account_id"] = account,
            ["timestamp"] = timestamp,
        }.ToJsonString();

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}

using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Bulwark.TestUtils;

namespace Bulwark.Cli.Tests;

/// <summary>The real executable under signed webhook load, SIGKILLed mid-write: nothing acknowledged is lost or doubled.</summary>
public sealed class IngestKillTests : IDisposable
{
    private const string Token = "bwk_ingest-kill-test-token-0123456789";
    private readonly TempDirectory _directory = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _directory.Dispose();

    /// <summary>
    /// 2,000 signed Standard Webhooks deliveries from 32 concurrent senders; the server is SIGKILLed once 500 are
    /// acknowledged. After a restart every acknowledged delivery's raw snapshot is there byte for byte, every one becomes
    /// exactly one event, and every one sent again is a duplicate of the same snapshot.
    /// </summary>
    [Fact]
    public async Task KillMinus9_DuringSignedDeliveries_KeepsEveryAcknowledgedOneExactlyOnce()
    {
        var secret = StandardWebhookSigner.NewSecret();
        var signer = new StandardWebhookSigner(secret);
        var environment = new Dictionary<string, string> { ["PARTNER_WEBHOOK_SECRET"] = secret };
        var acknowledged = new ConcurrentDictionary<int, (string Snapshot, byte[] Body)>();
        await using (var server = await ServerProcess.StartAsync(_directory.Path, bootstrapToken: Token, environment: environment))
        {
            using (var admin = server.CreateClient(Token))
            {
                using var put = await admin.PutAsync(
                    "v1/sources/partner",
                    BulwarkTestServer.Json("""{"scheme":"standard-webhooks","secrets":["env:PARTNER_WEBHOOK_SECRET"]}"""),
                    Ct);
                put.StatusCode.ShouldBe(HttpStatusCode.Created, await put.Content.ReadAsStringAsync(Ct));
            }

            using var client = server.CreateClient();
            var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var next = -1;
            async Task SenderAsync()
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < 2000)
                {
                    var body = Body(i);
                    try
                    {
                        using var request = signer.Request("partner", $"msg_{i}", TimeProvider.System.GetUtcNow(), body);
                        using var response = await client.SendAsync(request, Ct);
                        if (response.StatusCode == HttpStatusCode.OK)
                        {
                            var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;
                            acknowledged[i] = (answer["snapshot"]!.GetValue<string>(), body);
                            if (acknowledged.Count >= 500)
                            {
                                killed.TrySetResult();
                            }
                        }
                    }
                    catch (HttpRequestException)
                    {
                        return;
                    }
                }
            }

            var senders = Enumerable.Range(0, 32).Select(_ => Task.Run(SenderAsync)).ToList();
            await killed.Task.WaitAsync(TimeSpan.FromSeconds(120), Ct);
            await server.KillHardAsync();
            await Task.WhenAll(senders);
        }

        acknowledged.Count.ShouldBeGreaterThanOrEqualTo(500);
        acknowledged.Count.ShouldBeLessThan(2000, "the kill should land while deliveries are in flight");

        await using var restarted = await ServerProcess.StartAsync(_directory.Path, bootstrapToken: Token, environment: environment);
        using var reader = restarted.CreateClient(Token);
        foreach (var (_, (snapshot, body)) in acknowledged)
        {
            var raw = JsonNode.Parse(await reader.GetStringAsync($"v1/raw/{snapshot}", Ct))!;
            Convert.FromBase64String(raw["body_base64"]!.GetValue<string>()).ShouldBe(body);
        }

        // The normalizer resumes after the restart; wait (real time: the server is another process) for it to catch up.
        var expected = acknowledged.Keys.Select(i => $"evt_{i}").ToHashSet();
        var seen = new List<string>();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        while (!expected.IsSubsetOf(seen))
        {
            seen = await EventIdsAsync(reader, timeout.Token);
            if (!expected.IsSubsetOf(seen))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), timeout.Token);
            }
        }

        seen.Count.ShouldBe(seen.Distinct().Count(), "no event twice");
        using var again = restarted.CreateClient();
        foreach (var (i, (snapshot, body)) in acknowledged.Take(100))
        {
            using var retry = signer.Request("partner", $"msg_{i}", TimeProvider.System.GetUtcNow(), body);
            var answer = JsonNode.Parse(await (await again.SendAsync(retry, Ct)).Content.ReadAsStringAsync(Ct))!;
            (answer["duplicate"]!.GetValue<bool>(), answer["snapshot"]!.GetValue<string>()).ShouldBe((true, snapshot));
        }
    }

    private static byte[] Body(int i) => Encoding.UTF8.GetBytes(new JsonObject
    {
        ["schema_version"] = "v1",
        ["id"] = $"evt_{i}",
        ["source"] = "partner",
        ["platform"] = "internal",
        ["event_type"] = "password_reset",
        ["account_id"] = $"acct_{i % 97}",
        ["timestamp"] = "2026-11-21T12:00:00.000Z",
        ["details"] = new JsonObject { ["phase"] = "requested", ["trigger_source"] = "bulk_job" },
    }.ToJsonString());

    private static async Task<List<string>> EventIdsAsync(HttpClient client, CancellationToken cancellationToken)
    {
        var ids = new List<string>();
        long after = 0;
        while (true)
        {
            var page = JsonNode.Parse(await client.GetStringAsync($"v1/events?source=partner&limit=1000&after={after}", cancellationToken))!;
            ids.AddRange(page["items"]!.AsArray().Select(e => e!["id"]!.GetValue<string>()));
            if (page["next_after"] is not { } next)
            {
                return ids;
            }

            after = next.GetValue<long>();
        }
    }
}

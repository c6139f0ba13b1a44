using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Bulwark.TestUtils;

namespace Bulwark.Server.Tests.Ingest;

/// <summary>
/// A corpus of malformed and hostile deliveries and pushes: each gets a 4xx problem or a 2xx, never a 5xx; nothing
/// refused is stored; the server keeps serving.
/// </summary>
public sealed class HostileInputTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Now);
    private IngestServer _ingest = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _ingest = await IngestServer.StartAsync(_time);

    public async ValueTask DisposeAsync() => await _ingest.DisposeAsync();

    public static TheoryData<string> Bodies() =>
    [
        "",
        "{",
        "null",
        "42",
        "\"text\"",
        "[]",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        new string('[', 5000) + new string(']', 5000),
        """{"schema_version":"v1","id":1,"source":[],"platform":{},"event_type":null,"account_id":true,"timestamp":5}""",
        """{"a":1,"a":2}""",
        "{\"id\":\"\u0000\"}",
        """{"schema_version":"v1","id":"x","source":"partner","platform":"internal","event_type":"password_reset","account_id":"a","timestamp":"2026-03-02T00:00:00Z","details":{"nested":""" + new string('[', 200) + new string(']', 200) + "}}",
        "{\"data\":{\"events\":[" + string.Join(',', Enumerable.Repeat("{}", 2000)) + "]}}",
    ];

    [Theory]
    [MemberData(nameof(Bodies))]
    public async Task SignedHostileBody_IsAcceptedForQuarantineOrRefused_NeverA5xx(string text)
    {
        var signer = await _ingest.StandardSourceAsync("partner");
        using var client = _ingest.Server.CreateClient();
        var body = Encoding.UTF8.GetBytes(text);

        using var response = await client.SendAsync(signer.Request("partner", "msg_" + Guid.NewGuid().ToString("N"), Now, body), Ct);
        await _ingest.NormalizedAsync();

        ((int)response.StatusCode).ShouldBeLessThan(500, await response.Content.ReadAsStringAsync(Ct));
        using var admin = _ingest.Server.CreateAdminClient();
        (await admin.GetAsync("readyz", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        var events = await Http.ReadJsonAsync(await admin.GetAsync("v1/events?source=partner", Ct));
        var quarantined = await Http.ReadJsonAsync(await admin.GetAsync("v1/quarantine", Ct));

        // A verified body either became an event or sits in the quarantine with a reason: never silently dropped
        // (an empty batch carries nothing to drop).
        if (response.StatusCode == HttpStatusCode.OK && text != "[]")
        {
            (events["items"]!.AsArray().Count + quarantined["items"]!.AsArray().Count).ShouldBeGreaterThan(0);
        }
    }

    [Fact]
    public async Task InvalidUtf8_HugeHeaders_AndGarbageSignatures_AreRefusedCleanly()
    {
        var signer = await _ingest.StandardSourceAsync("partner");
        using var client = _ingest.Server.CreateClient();
        var before = _ingest.Events.LastSnapshotSeq;

        var invalidUtf8 = new byte[] { 0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0x22, 0x7D };
        using (var response = await client.SendAsync(signer.Request("partner", "msg_utf8", Now, invalidUtf8), Ct))
        {
            response.StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        // Headers over Kestrel's 32 KiB limit are refused by Kestrel while it parses them, before any of Bulwark's code
        // runs: 431 with an empty body, the one refusal without problem+json (docs/api.md, "Errors").
        using (var huge = signer.Request("partner", "msg_huge", Now, "{}"u8.ToArray()))
        {
            huge.Headers.TryAddWithoutValidation("X-Padding", new string('x', 60_000));
            using var response = await client.SendAsync(huge, Ct);
            response.StatusCode.ShouldBe(HttpStatusCode.RequestHeaderFieldsTooLarge);
            (await response.Content.ReadAsByteArrayAsync(Ct)).ShouldBeEmpty();
        }

        var cases = new List<HttpRequestMessage>();
        foreach (var signature in new[] { "v1,", "v1", "v1,!!!!", "v2,abc", new string('v', 10_000), "v1," + new string('A', 4096) })
        {
            var request = signer.Request("partner", "msg_sig", Now, "{}"u8.ToArray());
            request.Headers.Remove("webhook-signature");
            request.Headers.TryAddWithoutValidation("webhook-signature", signature);
            cases.Add(request);
        }

        var badTimestamp = signer.Request("partner", "msg_ts", Now, "{}"u8.ToArray());
        badTimestamp.Headers.Remove("webhook-timestamp");
        badTimestamp.Headers.TryAddWithoutValidation("webhook-timestamp", "99999999999999999999999");
        cases.Add(badTimestamp);

        foreach (var request in cases)
        {
            using (request)
            using (var response = await client.SendAsync(request, Ct))
            {
                ((int)response.StatusCode).ShouldBeInRange(400, 499, await response.Content.ReadAsStringAsync(Ct));
                response.Content.Headers.ContentType.ShouldNotBeNull().MediaType.ShouldBe("application/problem+json");
            }
        }

        _ingest.Events.LastSnapshotSeq.ShouldBe(before + 1);
        await _ingest.NormalizedAsync();
        using var admin = _ingest.Server.CreateAdminClient();
        var quarantine = await Http.ReadJsonAsync(await admin.GetAsync("v1/quarantine", Ct));
        quarantine["items"]!.AsArray().ShouldHaveSingleItem();
    }

    [Theory]
    [MemberData(nameof(Bodies))]
    public async Task HostilePush_IsAnsweredWithoutA5xx(string text)
    {
        using var admin = _ingest.Server.CreateAdminClient();

        using var json = await admin.PostAsync("v1/events", IngestServer.Body(text), Ct);
        using var ndjson = await admin.PostAsync("v1/events", IngestServer.Body(text, "application/x-ndjson"), Ct);

        ((int)json.StatusCode).ShouldBeLessThan(500);
        ((int)ndjson.StatusCode).ShouldBeLessThan(500);
        (await admin.GetAsync("readyz", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        // Every answer, success or problem, is a JSON document.
        JsonNode.Parse(await json.Content.ReadAsStringAsync(Ct)).ShouldNotBeNull();
        JsonNode.Parse(await ndjson.Content.ReadAsStringAsync(Ct)).ShouldNotBeNull();
    }
}

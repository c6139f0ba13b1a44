using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Ingest;
using Bulwark.Server.Ingest;
using Bulwark.Storage;
using Bulwark.Storage.Sqlite.Ingest;
using Bulwark.TestUtils;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Bulwark.Server.Tests.Ingest;

public sealed class WebhookIngestTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time = new(Now);
    private IngestServer _ingest = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _ingest = await IngestServer.StartAsync(_time);

    public async ValueTask DisposeAsync() => await _ingest.DisposeAsync();

    [Fact]
    public async Task SourcesList_ASecretThatStopsResolving_ChangesTheETag()
    {
        await _ingest.StandardSourceAsync("partner");
        using var admin = _ingest.Server.CreateAdminClient();
        using var first = await admin.GetAsync("v1/sources", Ct);
        var etag = first.Headers.ETag!;
        using var cached = new HttpRequestMessage(HttpMethod.Get, "v1/sources");
        cached.Headers.IfNoneMatch.Add(etag);
        (await admin.SendAsync(cached, Ct)).StatusCode.ShouldBe(HttpStatusCode.NotModified);

        _ingest.Secrets.Remove("SW_PARTNER");
        using var stale = new HttpRequestMessage(HttpMethod.Get, "v1/sources");
        stale.Headers.IfNoneMatch.Add(etag);
        using var changed = await admin.SendAsync(stale, Ct);

        changed.StatusCode.ShouldBe(HttpStatusCode.OK);
        changed.Headers.ETag.ShouldNotBe(etag);
        (await Http.ReadJsonAsync(changed))["items"]![0]!["status"]!["secrets"]![0]!["resolves"]!.GetValue<bool>().ShouldBeFalse();
    }

    [Fact]
    public async Task Sources_ShowReferencesOnly_AndNeverTheSecret()
    {
        await _ingest.StandardSourceAsync("partner");
        using var admin = _ingest.Server.CreateAdminClient();

        var source = await Http.ReadJsonAsync(await admin.GetAsync("v1/sources/partner", Ct));
        var list = await admin.GetStringAsync("v1/sources", Ct);
        var audit = await admin.GetStringAsync("v1/audit", Ct);

        source["secrets"]!.AsArray().Select(s => s!.GetValue<string>()).ShouldBe(["env:SW_PARTNER"]);
        source["status"]!["secrets"]![0]!["resolves"]!.GetValue<bool>().ShouldBeTrue();
        source["status"]!["endpoint"]!.GetValue<string>().ShouldBe("/v1/webhooks/partner");
        var secret = _ingest.Secrets["SW_PARTNER"];
        foreach (var text in new[] { source.ToJsonString(), list, audit })
        {
            text.ShouldNotContain(secret["whsec_".Length..]);
        }

        audit.ShouldContain("source.create");
    }

    [Fact]
    public async Task PutSource_WithASecretThatDoesNotResolve_Is422NamingIt()
    {
        using var admin = _ingest.Server.CreateAdminClient();
        using var response = await admin.PutAsync(
            "v1/sources/broken",
            BulwarkTestServer.Json("""{"scheme":"github","secrets":["env:NOT_SET_ANYWHERE"]}"""),
            Ct);

        var problem = await Http.ReadProblemAsync(response, HttpStatusCode.UnprocessableEntity, "validation");
        problem["errors"]![0]!["path"]!.GetValue<string>().ShouldBe("/secrets/0");
        problem["errors"]![0]!["message"]!.GetValue<string>().ShouldContain("NOT_SET_ANYWHERE");
    }

    [Fact]
    public async Task PutSource_WithASecretValueInsteadOfAReference_Is422()
    {
        using var admin = _ingest.Server.CreateAdminClient();
        using var response = await admin.PutAsync(
            "v1/sources/plain",
            BulwarkTestServer.Json("""{"scheme":"github","secrets":["It's a Secret to Everybody"]}"""),
            Ct);

        var problem = await Http.ReadProblemAsync(response, HttpStatusCode.UnprocessableEntity, "validation");
        problem.ToJsonString().ShouldNotContain("Everybody");
    }

    [Fact]
    public async Task SignedDelivery_IsStoredRaw_Answered200_AndNormalizedIntoTheLog()
    {
        var signer = await _ingest.StandardSourceAsync("partner");
        var body = Encoding.UTF8.GetBytes(IngestServer.Event("e-1", "partner") + "\n");
        using var client = _ingest.Server.CreateClient();
        using var request = signer.Request("partner", "msg_1", Now, body);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "must-not-be-kept");
        request.Headers.Add("X-Auth-Token", "must-not-be-kept-either");

        var answer = await Http.ReadJsonAsync(await client.SendAsync(request, Ct));
        await _ingest.NormalizedAsync();

        answer["duplicate"]!.GetValue<bool>().ShouldBeFalse();
        var snapshotId = answer["snapshot"]!.GetValue<string>();
        using var admin = _ingest.Server.CreateAdminClient();
        var raw = await Http.ReadJsonAsync(await admin.GetAsync($"v1/raw/{snapshotId}", Ct));
        Convert.FromBase64String(raw["body_base64"]!.GetValue<string>()).ShouldBe(body);
        raw["sha256"]!.GetValue<string>().ShouldBe(Convert.ToHexStringLower(SHA256.HashData(body)));
        raw["verification"]!.GetValue<string>().ShouldBe("verified");
        raw["delivery_id"]!.GetValue<string>().ShouldBe("msg_1");
        raw["headers"]!.AsObject().Select(h => h.Key.ToLowerInvariant()).ShouldContain("webhook-signature");
        raw["headers"]!.AsObject().Select(h => h.Key.ToLowerInvariant()).ShouldNotContain("authorization");
        raw["headers"]!.AsObject().Select(h => h.Key.ToLowerInvariant()).ShouldNotContain("x-auth-token");
        raw.ToJsonString().ShouldNotContain("must-not-be-kept");
        (await admin.GetByteArrayAsync($"v1/raw/{snapshotId}/body", Ct)).ShouldBe(body);

        var events = await Http.ReadJsonAsync(await admin.GetAsync("v1/events?source=partner", Ct));
        var logged = events["items"]!.AsArray().ShouldHaveSingleItem()!;
        (logged["id"]!.GetValue<string>(), logged["snapshot"]!.GetValue<string>()).ShouldBe(("e-1", snapshotId));
        logged["received_at"]!.GetValue<string>().ShouldBe("2026-11-21T12:00:00.000Z");
    }

    [Fact]
    public async Task RepeatedDelivery_IsADuplicate_WithTheFirstSnapshot_AndOneEvent()
    {
        var signer = await _ingest.StandardSourceAsync("partner");
        var body = Encoding.UTF8.GetBytes(IngestServer.Event("e-1", "partner"));
        using var client = _ingest.Server.CreateClient();

        var first = await Http.ReadJsonAsync(await client.SendAsync(signer.Request("partner", "msg_1", Now, body), Ct));
        _time.Advance(TimeSpan.FromMinutes(2));
        var second = await Http.ReadJsonAsync(await client.SendAsync(signer.Request("partner", "msg_1", Now.AddMinutes(2), body), Ct));
        await _ingest.NormalizedAsync();

        second["duplicate"]!.GetValue<bool>().ShouldBeTrue();
        second["snapshot"]!.GetValue<string>().ShouldBe(first["snapshot"]!.GetValue<string>());
        (await _ingest.Events.QueryEventsAsync(new EventQuery(Source: "partner"), Ct)).Count.ShouldBe(1);
    }

    [Fact]
    public async Task BadSignature_Is401_AndNothingIsStored()
    {
        var signer = await _ingest.StandardSourceAsync("partner");
        var body = Encoding.UTF8.GetBytes(IngestServer.Event("e-1", "partner"));
        using var client = _ingest.Server.CreateClient();
        var before = _ingest.Events.LastSnapshotSeq;

        using var tampered = signer.Request("partner", "msg_1", Now, body);
        tampered.Content = IngestServer.Body(IngestServer.Event("e-2", "partner"));
        await Http.ReadProblemAsync(await client.SendAsync(tampered, Ct), HttpStatusCode.Unauthorized, "webhook-signature-invalid");

        using var unsigned = new HttpRequestMessage(HttpMethod.Post, "v1/webhooks/partner") { Content = IngestServer.Body(IngestServer.Event("e-3", "partner")) };
        await Http.ReadProblemAsync(await client.SendAsync(unsigned, Ct), HttpStatusCode.Unauthorized, "webhook-signature-invalid");

        _ingest.Events.LastSnapshotSeq.ShouldBe(before);
    }

    [Theory]
    [InlineData(-301)]
    [InlineData(301)]
    public async Task TimestampOutsideTheWindow_Is401_WithItsOwnType(int seconds)
    {
        var signer = await _ingest.StandardSourceAsync("partner");
        var body = Encoding.UTF8.GetBytes(IngestServer.Event("e-1", "partner"));
        using var client = _ingest.Server.CreateClient();

        await Http.ReadProblemAsync(
            await client.SendAsync(signer.Request("partner", "msg_1", Now.AddSeconds(seconds), body), Ct),
            HttpStatusCode.Unauthorized,
            "webhook-timestamp-outside-window");
        (await client.SendAsync(signer.Request("partner", "msg_2", Now.AddSeconds(seconds > 0 ? 300 : -300), body), Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task TooLarge_WrongMediaType_AndUnknownSource_AreRefusedWithProblems()
    {
        var signer = await _ingest.StandardSourceAsync("small", maxBody: 1024);
        using var client = _ingest.Server.CreateClient();
        var large = Encoding.UTF8.GetBytes(new string(' ', 2000) + IngestServer.Event("e-1", "small"));

        await Http.ReadProblemAsync(await client.SendAsync(signer.Request("small", "msg_1", Now, large), Ct), HttpStatusCode.RequestEntityTooLarge, "payload-too-large");

        // Chunked, without a Content-Length: refused once the limit is passed.
        using var chunked = signer.Request("small", "msg_2", Now, large);
        chunked.Content = new StreamContent(new MemoryStream(large));
        chunked.Content.Headers.ContentType = new("application/json");
        chunked.Headers.TransferEncodingChunked = true;
        await Http.ReadProblemAsync(await client.SendAsync(chunked, Ct), HttpStatusCode.RequestEntityTooLarge, "payload-too-large");

        var body = Encoding.UTF8.GetBytes(IngestServer.Event("e-1", "small"));
        await Http.ReadProblemAsync(await client.SendAsync(signer.Request("small", "msg_3", Now, body, "text/html"), Ct), HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
        await Http.ReadProblemAsync(await client.SendAsync(signer.Request("nobody", "msg_4", Now, body), Ct), HttpStatusCode.NotFound, "not-found");

        // A compressed body is refused as such, not as JSON that does not parse; nothing is stored.
        using var gzipped = signer.Request("small", "msg_5", Now, body);
        gzipped.Content!.Headers.ContentEncoding.Add("gzip");
        var problem = await Http.ReadProblemAsync(await client.SendAsync(gzipped, Ct), HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
        problem["detail"]!.GetValue<string>().ShouldContain("Content-Encoding 'gzip'");
        _ingest.Events.LastSnapshotSeq.ShouldBe(0);
    }

    [Fact]
    public async Task ThrottledSource_Answers429BeforeReadingTheBody()
    {
        using var admin = _ingest.Server.CreateAdminClient();
        (await admin.PutAsync("v1/throttles/webhook-ingest", BulwarkTestServer.Json("""{"layers":[{"key":"source","limit":1,"per":"1h"}]}"""), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
        var secret = StandardWebhookSigner.NewSecret();
        _ingest.Secrets["SW_LIMITED"] = secret;
        await _ingest.PutSourceAsync("limited", JsonNode.Parse("""{"scheme":"standard-webhooks","secrets":["env:SW_LIMITED"],"throttle":"webhook-ingest"}""")!.AsObject());
        var signer = new StandardWebhookSigner(secret);
        using var client = _ingest.Server.CreateClient();
        var body = Encoding.UTF8.GetBytes(IngestServer.Event("e-1", "limited"));

        (await client.SendAsync(signer.Request("limited", "msg_1", Now, body), Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        using var second = await client.SendAsync(signer.Request("limited", "msg_2", Now, body), Ct);

        await Http.ReadProblemAsync(second, HttpStatusCode.TooManyRequests, "rate-limited");
        second.Headers.Contains("Retry-After").ShouldBeTrue();
    }

    [Fact]
    public async Task ThrottledSource_ThrottlesHandshakesToo()
    {
        using var admin = _ingest.Server.CreateAdminClient();
        (await admin.PutAsync("v1/throttles/handshakes", BulwarkTestServer.Json("""{"layers":[{"key":"source","limit":1,"per":"1h"}]}"""), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
        _ingest.Secrets["X_SECRET"] = "x-consumer-secret";
        await _ingest.PutSourceAsync("x", JsonNode.Parse("""{"scheme":"x","secrets":["env:X_SECRET"],"throttle":"handshakes"}""")!.AsObject());
        using var client = _ingest.Server.CreateClient();

        (await client.GetAsync("v1/webhooks/x?crc_token=first", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        using var second = await client.GetAsync("v1/webhooks/x?crc_token=second", Ct);

        await Http.ReadProblemAsync(second, HttpStatusCode.TooManyRequests, "rate-limited");
        second.Headers.Contains("Retry-After").ShouldBeTrue();
    }

    [Fact]
    public async Task NormalizerWorker_ASnapshotTheStoreRefuses_HoldsBackOnlyItselfAndWhatFollows_UntilFixed()
    {
        var signer = await _ingest.StandardSourceAsync("partner");
        var worker = _ingest.Server.Services.GetRequiredService<NormalizerWorker>();
        using var sql = OpenEventLog();
        Execute(sql, """
            CREATE TABLE test_gate (open INTEGER);
            CREATE TRIGGER test_refuse BEFORE INSERT ON events WHEN NEW.id = 'poison' OR NOT EXISTS (SELECT 1 FROM test_gate)
            BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;
            """);
        var paused = worker.NextPauseAsync();
        var seqs = await DeliverAsync(signer, "e-1", "poison", "e-3");

        // Every write fails at first; then only the poisoned snapshot's does. The worker, going one at a time after a
        // failure, records e-1 and stops at the poison, with e-3 behind it.
        await paused.WaitAsync(Patience, Ct);
        Execute(sql, "INSERT INTO test_gate VALUES (1)");
        paused = worker.NextPauseAsync();
        _time.Advance(NormalizerWorker.RetryAfter);
        await paused.WaitAsync(Patience, Ct);

        worker.Normalized.ShouldBe(seqs[0]);
        (await _ingest.Events.ReadEventsAsync(0, 10, Ct)).Select(e => e.Event.Id).ShouldBe(["e-1"]);

        Execute(sql, "DROP TRIGGER test_refuse");
        _time.Advance(NormalizerWorker.RetryAfter);
        await _ingest.NormalizedAsync();
        (await _ingest.Events.ReadEventsAsync(0, 10, Ct)).Select(e => e.Event.Id).ShouldBe(["e-1", "poison", "e-3"]);
        (await _ingest.Events.GetOffsetAsync(NormalizerWorker.Consumer, Ct)).ShouldBe(seqs[2]);
    }

    [Fact]
    public async Task NormalizerWorker_AStoreThatAlsoFailsTheReadOfItsOffset_IsRetried_NotTheEndOfTheWorker()
    {
        var signer = await _ingest.StandardSourceAsync("partner");
        var worker = _ingest.Server.Services.GetRequiredService<NormalizerWorker>();
        await DeliverAsync(signer, "e-1");
        await _ingest.NormalizedAsync();

        // Without the offsets table both the batch's write and the read of the offset after it fail, as they do when a
        // store fails at all. The worker pauses after each and keeps trying.
        using var sql = OpenEventLog();
        Execute(sql, "ALTER TABLE consumer_offsets RENAME TO test_offsets_away");
        var paused = worker.NextPauseAsync();
        var seqs = await DeliverAsync(signer, "e-2");
        await paused.WaitAsync(Patience, Ct);
        paused = worker.NextPauseAsync();
        _time.Advance(NormalizerWorker.RetryAfter);
        await paused.WaitAsync(Patience, Ct);

        Execute(sql, "ALTER TABLE test_offsets_away RENAME TO consumer_offsets");
        _time.Advance(NormalizerWorker.RetryAfter);
        await _ingest.NormalizedAsync();
        (await _ingest.Events.ReadEventsAsync(0, 10, Ct)).Select(e => e.Event.Id).ShouldBe(["e-1", "e-2"]);
        (await _ingest.Events.GetOffsetAsync(NormalizerWorker.Consumer, Ct)).ShouldBe(seqs[0]);
    }

    [Fact]
    public async Task NormalizerWorker_ASnapshotTheStoreKeepsRefusing_IsQuarantinedWithTheReason_AndWhatFollowsGoesOn()
    {
        var signer = await _ingest.StandardSourceAsync("partner");
        var worker = _ingest.Server.Services.GetRequiredService<NormalizerWorker>();
        using var sql = OpenEventLog();
        Execute(sql, """
            CREATE TRIGGER test_refuse BEFORE INSERT ON events WHEN NEW.id = 'poison'
            BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;
            """);
        var paused = worker.NextPauseAsync();
        var seqs = await DeliverAsync(signer, "e-1", "poison", "e-3");

        // The first batch fails; then, one at a time, the poisoned snapshot alone fails MaxAttempts times and goes to the
        // quarantine.
        for (var pause = 0; pause < NormalizerWorker.MaxAttempts + 1; pause++)
        {
            await paused.WaitAsync(Patience, Ct);
            worker.Normalized.ShouldBeLessThan(seqs[1]);
            paused = worker.NextPauseAsync();
            _time.Advance(NormalizerWorker.RetryAfter);
        }

        await _ingest.NormalizedAsync();
        (await _ingest.Events.ReadEventsAsync(0, 10, Ct)).Select(e => e.Event.Id).ShouldBe(["e-1", "e-3"]);
        (await _ingest.Events.GetOffsetAsync(NormalizerWorker.Consumer, Ct)).ShouldBe(seqs[2]);
        using var admin = _ingest.Server.CreateAdminClient();
        var entry = (await Http.ReadJsonAsync(await admin.GetAsync("v1/quarantine?status=open", Ct)))["items"]!.AsArray().ShouldHaveSingleItem()!;
        entry["reason"]!.GetValue<string>().ShouldContain("refused by the test");

        // After the fix, a retry records it: nothing was lost.
        Execute(sql, "DROP TRIGGER test_refuse");
        var retried = await Http.ReadJsonAsync(await admin.PostAsync($"v1/quarantine/{entry["id"]!.GetValue<string>()}/retry", null, Ct));
        retried["appended"]!.GetValue<int>().ShouldBe(1);
        (await _ingest.Events.ReadEventsAsync(0, 10, Ct)).Select(e => e.Event.Id).ShouldBe(["e-1", "e-3", "poison"]);
    }

    [Fact]
    public async Task VerifiedBodyThatDoesNotNormalize_IsQuarantined_AndARetryAfterTheFixResolvesIt()
    {
        var signer = await _ingest.StandardSourceAsync("idp");
        var okta = """{"eventType":"com.okta.event_hook","data":{"events":[{"uuid":"f790999f-fe87-467a-9880-6982a583986c","published":"2018-03-28T22:23:07.777Z","eventType":"user.session.start","outcome":{"result":"SUCCESS"},"actor":{"id":"00u1qw6mqitPHM8AJ0g7","type":"User"},"client":{"ipAddress":"12.97.85.90"}}]}}""";
        using var client = _ingest.Server.CreateClient();

        (await client.SendAsync(signer.Request("idp", "msg_1", Now, Encoding.UTF8.GetBytes(okta)), Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        await _ingest.NormalizedAsync();

        using var admin = _ingest.Server.CreateAdminClient();
        var open = await Http.ReadJsonAsync(await admin.GetAsync("v1/quarantine?status=open", Ct));
        var entry = open["items"]!.AsArray().ShouldHaveSingleItem()!;
        entry["source"]!.GetValue<string>().ShouldBe("idp");
        var id = entry["id"]!.GetValue<string>();

        // The operator sees it is an Okta payload and fixes the source's normalizer.
        var manifest = (await Http.ReadJsonAsync(await admin.GetAsync("v1/sources/idp", Ct))).AsObject();
        manifest["normalizer"] = "okta";
        manifest.Remove("platform");
        await _ingest.PutSourceAsync("idp", manifest, HttpStatusCode.OK);
        var retried = await Http.ReadJsonAsync(await admin.PostAsync($"v1/quarantine/{id}/retry", null, Ct));

        retried["entry"]!["status"]!.GetValue<string>().ShouldBe("resolved");
        retried["appended"]!.GetValue<int>().ShouldBe(1);
        var events = await Http.ReadJsonAsync(await admin.GetAsync("v1/events?source=idp", Ct));
        events["items"]![0]!["event_type"]!.GetValue<string>().ShouldBe("session_new");
        (await admin.GetStringAsync("v1/audit", Ct)).ShouldContain("quarantine.retry");
        await Http.ReadProblemAsync(await admin.PostAsync($"v1/quarantine/{id}/retry", null, Ct), HttpStatusCode.Conflict, "conflict");
    }

    [Fact]
    public async Task Quarantine_ListedAPageAtATime_WithTheNextPagesCursor()
    {
        var signer = await _ingest.StandardSourceAsync("idp");
        using var client = _ingest.Server.CreateClient();
        for (var i = 0; i < 3; i++)
        {
            var body = Encoding.UTF8.GetBytes("{\"not\":\"an event\",\"n\":" + i + "}");
            (await client.SendAsync(signer.Request("idp", "msg_" + i, Now, body), Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        await _ingest.NormalizedAsync();
        using var viewer = _ingest.Server.CreateClient(await _ingest.Server.CreateIdentityTokenAsync("val", Bulwark.Identity.Role.Viewer));

        var first = await Http.ReadJsonAsync(await viewer.GetAsync("v1/quarantine?limit=2", Ct));
        var second = await Http.ReadJsonAsync(await viewer.GetAsync($"v1/quarantine?limit=2&before={first["next_before"]}", Ct));
        var all = await Http.ReadJsonAsync(await viewer.GetAsync("v1/quarantine", Ct));

        first["items"]!.AsArray().Count.ShouldBe(2);
        first["next_before"]!.GetValue<string>().ShouldBe(first["items"]![1]!["id"]!.GetValue<string>());
        second["items"]!.AsArray().ShouldHaveSingleItem();
        second["next_before"].ShouldBeNull();
        first["items"]!.AsArray().Concat(second["items"]!.AsArray()).Select(e => e!["id"]!.GetValue<string>())
            .ShouldBe(all["items"]!.AsArray().Select(e => e!["id"]!.GetValue<string>()));
        all["next_before"].ShouldBeNull();
        await Http.ReadProblemAsync(await viewer.GetAsync("v1/quarantine?before=q_nobody", Ct), HttpStatusCode.UnprocessableEntity, "validation");
        await Http.ReadProblemAsync(await viewer.GetAsync("v1/quarantine?limit=0", Ct), HttpStatusCode.UnprocessableEntity, "validation");
        await Http.ReadProblemAsync(await viewer.GetAsync("v1/quarantine?limit=501", Ct), HttpStatusCode.UnprocessableEntity, "validation");
    }

    [Fact]
    public async Task OktaSource_HandshakeAndBatch_BecomeOneEventPerItem()
    {
        _ingest.Secrets["OKTA_KEY"] = "okta-shared-authorization-value";
        await _ingest.PutSourceAsync("okta", JsonNode.Parse("""{"scheme":"okta","secrets":["env:OKTA_KEY"]}""")!.AsObject());
        using var client = _ingest.Server.CreateClient();

        using var handshake = new HttpRequestMessage(HttpMethod.Get, "v1/webhooks/okta");
        handshake.Headers.Add("X-Okta-Verification-Challenge", "challenge-123");
        handshake.Headers.TryAddWithoutValidation("Authorization", "okta-shared-authorization-value");
        var verification = await Http.ReadJsonAsync(await client.SendAsync(handshake, Ct));
        verification["verification"]!.GetValue<string>().ShouldBe("challenge-123");

        var batch = """
            {"eventType":"com.okta.event_hook","data":{"events":[
              {"uuid":"u-1","published":"2026-11-21T11:59:00.000Z","eventType":"user.session.start","outcome":{"result":"FAILURE","reason":"VERIFICATION_ERROR"},"actor":{"id":"00u1","type":"User"},"client":{"ipAddress":"198.51.100.7"}},
              {"uuid":"u-2","published":"2026-11-21T11:59:01.000Z","eventType":"system.email.password_reset.sent_message","outcome":{"result":"SUCCESS"},"actor":{"id":"00u1","type":"User"},"client":{"ipAddress":"198.51.100.7"}}
            ]}}
            """;
        using var delivery = new HttpRequestMessage(HttpMethod.Post, "v1/webhooks/okta") { Content = IngestServer.Body(batch) };
        delivery.Headers.TryAddWithoutValidation("Authorization", "okta-shared-authorization-value");
        (await client.SendAsync(delivery, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        using var wrong = new HttpRequestMessage(HttpMethod.Post, "v1/webhooks/okta") { Content = IngestServer.Body(batch) };
        wrong.Headers.TryAddWithoutValidation("Authorization", "okta-shared-authorization-valuE");
        await Http.ReadProblemAsync(await client.SendAsync(wrong, Ct), HttpStatusCode.Unauthorized, "webhook-signature-invalid");
        await _ingest.NormalizedAsync();

        var logged = await _ingest.Events.QueryEventsAsync(new EventQuery(Source: "okta"), Ct);
        logged.Select(e => (e.Event.Id, e.Event.EventType)).ShouldBe([("u-1", "login_failed"), ("u-2", "password_reset")]);
        logged.ShouldAllBe(e => e.Event.Platform == "okta" && e.Event.Actor!.Ip == "198.51.100.7");
    }

    [Fact]
    public async Task Handshakes_OfMetaXAndLinkedIn_AnswerAsThePlatformsExpect()
    {
        _ingest.Secrets["APP_SECRET"] = "app-secret-value";
        _ingest.Secrets["VERIFY"] = "meatyhamhock";
        await _ingest.PutSourceAsync("meta", JsonNode.Parse("""{"scheme":"meta","secrets":["env:APP_SECRET"],"verify_token":"env:VERIFY"}""")!.AsObject());
        await _ingest.PutSourceAsync("x", JsonNode.Parse("""{"scheme":"x","secrets":["env:APP_SECRET"]}""")!.AsObject());
        await _ingest.PutSourceAsync("linkedin", JsonNode.Parse("""{"scheme":"linkedin","secrets":["env:APP_SECRET"]}""")!.AsObject());
        using var client = _ingest.Server.CreateClient();

        var meta = await client.GetAsync("v1/webhooks/meta?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock", Ct);
        (meta.StatusCode, await meta.Content.ReadAsStringAsync(Ct)).ShouldBe((HttpStatusCode.OK, "1158201444"));
        meta.Headers.GetValues("X-Content-Type-Options").ShouldBe(["nosniff"]); // the caller's text, never sniffed as HTML
        await Http.ReadProblemAsync(await client.GetAsync("v1/webhooks/meta?hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong", Ct), HttpStatusCode.Forbidden, "forbidden");

        using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes("app-secret-value"));
        var crc = await Http.ReadJsonAsync(await client.GetAsync("v1/webhooks/x?crc_token=9b4507b3", Ct));
        crc["response_token"]!.GetValue<string>().ShouldBe("sha256=" + Convert.ToBase64String(hmac.ComputeHash(Encoding.UTF8.GetBytes("9b4507b3"))));

        var linkedin = await Http.ReadJsonAsync(await client.GetAsync("v1/webhooks/linkedin?challengeCode=890e4665", Ct));
        linkedin["challengeCode"]!.GetValue<string>().ShouldBe("890e4665");
        linkedin["challengeResponse"]!.GetValue<string>().ShouldBe(Convert.ToHexStringLower(hmac.ComputeHash(Encoding.UTF8.GetBytes("890e4665"))));
    }

    [Fact]
    public async Task Replay_RenormalizingWhileTheNormalizerIsBehind_LeavesItsPlace_AndItStillNormalizesEverySnapshot()
    {
        var signer = await _ingest.StandardSourceAsync("partner");
        var worker = _ingest.Server.Services.GetRequiredService<NormalizerWorker>();
        await worker.StopAsync(Ct);
        using var client = _ingest.Server.CreateClient();
        var early = Encoding.UTF8.GetBytes(IngestServer.Event("e-early", "partner"));
        (await client.SendAsync(signer.Request("partner", "msg_1", Now, early), Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        _time.Advance(TimeSpan.FromMinutes(10));
        var late = Encoding.UTF8.GetBytes(IngestServer.Event("e-late", "partner"));
        (await client.SendAsync(signer.Request("partner", "msg_2", Now.AddMinutes(10), late), Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        var place = await _ingest.Events.GetOffsetAsync(NormalizerWorker.Consumer, Ct);

        // The replay re-normalizes only the later snapshot; the normalizer has reached neither.
        using var admin = _ingest.Server.CreateAdminClient();
        var since = Now.AddMinutes(5).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        var answer = await Http.ReadJsonAsync(await admin.PostAsync(
            "v1/events/replay", BulwarkTestServer.Json($$"""{"since":"{{since}}","renormalize":true}"""), Ct));
        answer["renormalized"]!.GetValue<int>().ShouldBe(1);
        answer["appended"]!.GetValue<int>().ShouldBe(1);
        (await _ingest.Events.GetOffsetAsync(NormalizerWorker.Consumer, Ct)).ShouldBe(place);

        // Started again, the normalizer goes on from its own place: the earlier snapshot is not skipped.
        await worker.StartAsync(Ct);
        await _ingest.NormalizedAsync();
        var logged = await _ingest.Events.QueryEventsAsync(new EventQuery(Source: "partner"), Ct);
        logged.Select(e => e.Event.Id).ShouldBe(["e-late", "e-early"]);
    }

    [Fact]
    public async Task Replay_AfterANormalizerFixOverMorePagesThanOne_NormalizesEverySnapshotInTheWindowOnce()
    {
        // The source names the wrong normalizer: every delivery (a v1 event) is quarantined.
        var signer = await _ingest.StandardSourceAsync("partner", normalizer: "okta");
        using var client = _ingest.Server.CreateClient();
        var start = _time.GetUtcNow();

        // 300 deliveries a second apart (more than a replay's page of 256), then 20 after the window's end.
        for (var i = 0; i < 320; i++)
        {
            var body = Encoding.UTF8.GetBytes(IngestServer.Event($"w-{i}", "partner"));
            (await client.SendAsync(signer.Request("partner", $"msg_{i}", _time.GetUtcNow(), body), Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        await _ingest.NormalizedAsync();
        (await _ingest.Events.ListQuarantineAsync(QuarantineStatus.Open, 500, null, Ct)).Count.ShouldBe(320);
        await _ingest.PutSourceAsync(
            "partner", JsonNode.Parse("""{"scheme":"standard-webhooks","secrets":["env:SW_PARTNER"],"normalizer":"event-v1"}""")!.AsObject(), HttpStatusCode.OK);

        using var admin = _ingest.Server.CreateAdminClient();
        string Time(DateTimeOffset at) => at.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        var answer = await Http.ReadJsonAsync(await admin.PostAsync(
            "v1/events/replay",
            BulwarkTestServer.Json($$"""{"since":"{{Time(start)}}","until":"{{Time(start.AddSeconds(300))}}","renormalize":true}"""),
            Ct));

        (answer["renormalized"]!.GetValue<int>(), answer["appended"]!.GetValue<int>()).ShouldBe((300, 300));
        var logged = await _ingest.Events.QueryEventsAsync(new EventQuery(Source: "partner", Limit: 1000), Ct);
        logged.Select(e => e.Event.Id).ShouldBe(Enumerable.Range(0, 300).Select(i => $"w-{i}"));
        (await _ingest.Events.ListQuarantineAsync(QuarantineStatus.Resolved, 500, null, Ct)).Count.ShouldBe(300);
        (await _ingest.Events.ListQuarantineAsync(QuarantineStatus.Open, 500, null, Ct)).Select(q => q.SnapshotId)
            .ShouldBe((await _ingest.Events.ReadSnapshotsAsync(300, 100, Ct)).Select(r => r.Id), ignoreOrder: true);
    }

    [Fact]
    public async Task Replay_ASnapshotTheLogRefuses_IsReportedAndAudited_AndTheRestOfItsPageIsRecorded()
    {
        var signer = await _ingest.StandardSourceAsync("partner", normalizer: "okta");
        var seqs = await DeliverAsync(signer, "e-1", "poison", "e-3");
        await _ingest.NormalizedAsync();
        await _ingest.PutSourceAsync(
            "partner", JsonNode.Parse("""{"scheme":"standard-webhooks","secrets":["env:SW_PARTNER"],"normalizer":"event-v1"}""")!.AsObject(), HttpStatusCode.OK);
        using var sql = OpenEventLog();
        Execute(sql, """
            CREATE TRIGGER test_refuse BEFORE INSERT ON events WHEN NEW.id = 'poison'
            BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;
            """);

        using var admin = _ingest.Server.CreateAdminClient();
        var answer = await Http.ReadJsonAsync(await admin.PostAsync(
            "v1/events/replay", BulwarkTestServer.Json("""{"since":"2026-01-01T00:00:00Z","renormalize":true}"""), Ct));

        (answer["renormalized"]!.GetValue<int>(), answer["appended"]!.GetValue<int>(), answer["failed"]!.GetValue<int>()).ShouldBe((2, 2, 1));
        var failure = answer["failures"]!.AsArray().ShouldHaveSingleItem()!;
        failure["snapshot"]!.GetValue<string>().ShouldBe((await _ingest.Events.ReadSnapshotsAsync(seqs[0], 1, Ct))[0].Id);
        failure["error"]!.GetValue<string>().ShouldContain("refused by the test");
        // Received in one millisecond, the three are re-normalized in no particular order.
        (await _ingest.Events.QueryEventsAsync(new EventQuery(Source: "partner"), Ct)).Select(e => e.Event.Id).ShouldBe(["e-1", "e-3"], ignoreOrder: true);
        var audited = await _ingest.Server.Services.GetRequiredService<IControlStore>().ReadAuditAsync(0, 10_000, Ct);
        JsonNode.Parse(audited.Where(e => e.Action == "events.replay").ShouldHaveSingleItem().After!)!["failed"]!.GetValue<int>().ShouldBe(1);
    }

    [Fact]
    public async Task Replay_WhileAnotherRuns_409NamingIt_WhichCanBeFollowedUntilItEnds()
    {
        using var admin = _ingest.Server.CreateAdminClient();
        var replays = _ingest.Server.Services.GetRequiredService<Replays>();
        await _ingest.Events.SetOffsetAsync("metrics", 0, Ct);
        var release = new TaskCompletionSource();
        var held = replays.TryStart(new JsonObject { ["since"] = "2026-01-01T00:00:00.000000Z" }, _ => release.Task).Started.ShouldNotBeNull();

        using var busy = await admin.PostAsync("v1/events/replay", BulwarkTestServer.Json("""{"since":"2026-01-01T00:00:00Z"}"""), Ct);
        var problem = await Http.ReadProblemAsync(busy, HttpStatusCode.Conflict, "conflict");
        problem["detail"]!.GetValue<string>().ShouldContain($"GET /v1/events/replays/{held.Id}");
        (await _ingest.Events.GetOffsetAsync("metrics", Ct)).ShouldBe(0);

        var running = await Http.ReadJsonAsync(await admin.GetAsync($"v1/events/replays/{held.Id}", Ct));
        (running["id"]!.GetValue<string>(), running["state"]!.GetValue<string>(), running["ended"]).ShouldBe((held.Id, "running", null));
        var listed = await Http.ReadJsonAsync(await admin.GetAsync("v1/events/replays", Ct));
        listed["items"]!.AsArray().Select(r => r!["id"]!.GetValue<string>()).ShouldBe([held.Id]);

        release.SetResult();
        await held.Completion.WaitAsync(Ct);
        var ended = await Http.ReadJsonAsync(await admin.GetAsync($"v1/events/replays/{held.Id}", Ct));
        ended["state"]!.GetValue<string>().ShouldBe("completed");
        ended["ended"].ShouldNotBeNull();
        using var free = await admin.PostAsync("v1/events/replay", BulwarkTestServer.Json("""{"since":"2026-01-01T00:00:00Z"}"""), Ct);
        var done = await Http.ReadJsonAsync(free);
        (done["state"]!.GetValue<string>(), done["renormalized"]!.GetValue<int>()).ShouldBe(("completed", 0));
        done["id"]!.GetValue<string>().ShouldNotBe(held.Id);
    }

    [Fact]
    public async Task Replay_AskedToRespondAsync_202WithWhereToFollowIt_AndItsOutcomeThere()
    {
        // Every delivery quarantined under the wrong normalizer, then the fix: the replay has real work to do.
        var signer = await _ingest.StandardSourceAsync("partner", normalizer: "okta");
        await DeliverAsync(signer, "a-1", "a-2", "a-3");
        await _ingest.NormalizedAsync();
        await _ingest.PutSourceAsync(
            "partner", JsonNode.Parse("""{"scheme":"standard-webhooks","secrets":["env:SW_PARTNER"],"normalizer":"event-v1"}""")!.AsObject(), HttpStatusCode.OK);

        using var admin = _ingest.Server.CreateAdminClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/events/replay")
        {
            Content = BulwarkTestServer.Json("""{"since":"2026-01-01T00:00:00Z","renormalize":true,"reason":"okta was the wrong normalizer"}"""),
        };
        request.Headers.Add("Prefer", "wait=5, respond-async");
        using var accepted = await admin.SendAsync(request, Ct);

        accepted.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        accepted.Headers.GetValues("Preference-Applied").ShouldBe(["respond-async"]);
        var first = await Http.ReadJsonAsync(accepted, HttpStatusCode.Accepted);
        var id = first["id"]!.GetValue<string>();
        accepted.Headers.Location!.ToString().ShouldBe($"/v1/events/replays/{id}");
        first.AsObject().Select(p => p.Key).ShouldBe(
            ["id", "since", "until", "renormalize", "consumers", "rewound", "renormalized", "appended", "state", "started", "ended"], ignoreOrder: true);

        await _ingest.Server.Services.GetRequiredService<Replays>().Find(id)!.Completion.WaitAsync(Ct);
        var outcome = await Http.ReadJsonAsync(await admin.GetAsync(accepted.Headers.Location, Ct));
        (outcome["state"]!.GetValue<string>(), outcome["renormalized"]!.GetValue<int>(), outcome["appended"]!.GetValue<int>())
            .ShouldBe(("completed", 3, 3));
        (await _ingest.Events.QueryEventsAsync(new EventQuery(Source: "partner"), Ct)).Select(e => e.Event.Id).ShouldBe(["a-1", "a-2", "a-3"], ignoreOrder: true);
        var audited = (await _ingest.Server.Services.GetRequiredService<IControlStore>().ReadAuditAsync(0, 10_000, Ct))
            .Where(e => e.Action == "events.replay").ShouldHaveSingleItem();
        audited.Reason.ShouldBe("okta was the wrong normalizer");
        var after = JsonNode.Parse(audited.After!)!;
        (after["id"]!.GetValue<string>(), after["appended"]!.GetValue<int>(), after["renormalize"]!.GetValue<bool>()).ShouldBe((id, 3, true));
        after["consumers"]!.AsArray().Select(c => c!.GetValue<string>()).ShouldBe(["detection", "metrics"], ignoreOrder: true);
    }

    [Fact]
    public async Task Replay_AStoreThatRefusesItsWrites_500Waiting_OrFailedWhenFollowed_AuditedAsNotCompleted()
    {
        var signer = await _ingest.StandardSourceAsync("partner", normalizer: "okta");
        await DeliverAsync(signer, "f-1", "f-2");
        await _ingest.NormalizedAsync();
        await _ingest.PutSourceAsync(
            "partner", JsonNode.Parse("""{"scheme":"standard-webhooks","secrets":["env:SW_PARTNER"],"normalizer":"event-v1"}""")!.AsObject(), HttpStatusCode.OK);
        using var sql = OpenEventLog();
        Execute(sql, "CREATE TRIGGER test_refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'the disk is gone'); END;");
        using var admin = _ingest.Server.CreateAdminClient();
        const string Body = """{"since":"2026-01-01T00:00:00Z","renormalize":true}""";

        using var waited = await admin.PostAsync("v1/events/replay", BulwarkTestServer.Json(Body), Ct);
        // A refusal (here a constraint, as a row the server made that the store will not take) is a bug: 500.
        var problem = await Http.ReadProblemAsync(waited, HttpStatusCode.InternalServerError, "internal");
        problem["detail"]!.GetValue<string>().ShouldStartWith("The replay failed part-way (SqliteException): it stopped");

        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/events/replay") { Content = BulwarkTestServer.Json(Body) };
        request.Headers.Add("Prefer", "respond-async");
        using var accepted = await admin.SendAsync(request, Ct);
        var id = (await Http.ReadJsonAsync(accepted, HttpStatusCode.Accepted))["id"]!.GetValue<string>();
        await _ingest.Server.Services.GetRequiredService<Replays>().Find(id)!.Completion.WaitAsync(Ct);
        var followed = await Http.ReadJsonAsync(await admin.GetAsync($"v1/events/replays/{id}", Ct));
        (followed["state"]!.GetValue<string>(), followed["completed"]!.GetValue<bool>(), followed["renormalized"]!.GetValue<int>())
            .ShouldBe(("failed", false, 0));
        followed["error"]!.GetValue<string>().ShouldBe("SqliteException");

        var audited = (await _ingest.Server.Services.GetRequiredService<IControlStore>().ReadAuditAsync(0, 10_000, Ct))
            .Where(e => e.Action == "events.replay").Select(e => JsonNode.Parse(e.After!)!).ToList();
        audited.Count.ShouldBe(2);
        audited.ShouldAllBe(a => !a["completed"]!.GetValue<bool>() && a["error"]!.GetValue<string>() == "SqliteException");
    }

    [Fact]
    public async Task AnEventStoreThatCannotServe_Is503_NotABug()
    {
        var signer = await _ingest.StandardSourceAsync("partner");
        await DeliverAsync(signer, "s-1");
        await _ingest.NormalizedAsync();
        await _ingest.Events.DisposeAsync();
        using var admin = _ingest.Server.CreateAdminClient();

        var read = await Http.ReadProblemAsync(await admin.GetAsync("v1/events", Ct), HttpStatusCode.ServiceUnavailable, "unavailable");
        read["detail"]!.GetValue<string>().ShouldStartWith("The store cannot serve this now (ObjectDisposedException)");
        using var replay = await admin.PostAsync("v1/events/replay", BulwarkTestServer.Json("""{"since":"2026-01-01T00:00:00Z","renormalize":true}"""), Ct);
        var stopped = await Http.ReadProblemAsync(replay, HttpStatusCode.ServiceUnavailable, "unavailable");
        stopped["detail"]!.GetValue<string>().ShouldStartWith("The event store could not serve part-way (ObjectDisposedException): the replay stopped");
        using var client = _ingest.Server.CreateClient();
        using var delivery = await client.SendAsync(signer.Request("partner", "msg_s-2", Now, Encoding.UTF8.GetBytes(IngestServer.Event("s-2", "partner"))), Ct);
        await Http.ReadProblemAsync(delivery, HttpStatusCode.ServiceUnavailable, "unavailable");
    }

    [Fact]
    public async Task Replays_UnknownId_404Problem()
    {
        using var admin = _ingest.Server.CreateAdminClient();
        var problem = await Http.ReadProblemAsync(await admin.GetAsync("v1/events/replays/rpl_0123456789abcdef", Ct), HttpStatusCode.NotFound, "not-found");
        problem["detail"]!.GetValue<string>().ShouldContain("audit log");
    }

    [Fact]
    public async Task Replay_WhenTheServerIsStopping_AuditsWhatItDidAsNotCompleted()
    {
        var signer = await _ingest.StandardSourceAsync("partner");
        using var client = _ingest.Server.CreateClient();
        var body = Encoding.UTF8.GetBytes(IngestServer.Event("s-1", "partner"));
        (await client.SendAsync(signer.Request("partner", "msg_s1", _time.GetUtcNow(), body), Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        await _ingest.NormalizedAsync();
        _ingest.Server.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();

        using var admin = _ingest.Server.CreateAdminClient();
        using var stopped = await admin.PostAsync(
            "v1/events/replay", BulwarkTestServer.Json("""{"since":"2026-01-01T00:00:00Z","renormalize":true,"reason":"fix"}"""), Ct);

        await Http.ReadProblemAsync(stopped, HttpStatusCode.ServiceUnavailable, "unavailable");
        stopped.Headers.GetValues("X-Content-Type-Options").ShouldBe(["nosniff"]); // also on an answer the error handler wrote
        var audited = await _ingest.Server.Services.GetRequiredService<IControlStore>().ReadAuditAsync(0, 10_000, Ct);
        var after = JsonNode.Parse(audited.Where(e => e.Action == "events.replay").ShouldHaveSingleItem().After!)!;
        (after["completed"]!.GetValue<bool>(), after["error"]!.GetValue<string>(), after["renormalized"]!.GetValue<int>())
            .ShouldBe((false, "the server is stopping", 0));

        // The stopped replay gave its place back: the next one is refused for the stop, not for a replay running; one
        // that does not wait is accepted and ends stopped too.
        using var again = await admin.PostAsync("v1/events/replay", BulwarkTestServer.Json("""{"since":"2026-01-01T00:00:00Z"}"""), Ct);
        await Http.ReadProblemAsync(again, HttpStatusCode.ServiceUnavailable, "unavailable");
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/events/replay") { Content = BulwarkTestServer.Json("""{"since":"2026-01-01T00:00:00Z"}""") };
        request.Headers.Add("Prefer", "respond-async");
        using var accepted = await admin.SendAsync(request, Ct);
        var id = (await Http.ReadJsonAsync(accepted, HttpStatusCode.Accepted))["id"]!.GetValue<string>();
        await _ingest.Server.Services.GetRequiredService<Replays>().Find(id)!.Completion.WaitAsync(Ct);
        var followed = await Http.ReadJsonAsync(await admin.GetAsync($"v1/events/replays/{id}", Ct));
        (followed["state"]!.GetValue<string>(), followed["error"]!.GetValue<string>()).ShouldBe(("stopped", "the server is stopping"));
    }

    [Fact]
    public async Task HandshakeAnswers_ReplayedAsDeliverySignatures_401AndNothingStored()
    {
        _ingest.Secrets["APP_SECRET"] = "app-secret-value";
        await _ingest.PutSourceAsync("x", JsonNode.Parse("""{"scheme":"x","secrets":["env:APP_SECRET"]}""")!.AsObject());
        await _ingest.PutSourceAsync("linkedin", JsonNode.Parse("""{"scheme":"linkedin","secrets":["env:APP_SECRET"]}""")!.AsObject());
        using var client = _ingest.Server.CreateClient();
        var before = _ingest.Events.LastSnapshotSeq;

        // Anyone may ask for handshake answers; each signs the caller's text with the key that signs deliveries.
        var crc = await Http.ReadJsonAsync(await client.GetAsync("v1/webhooks/x?crc_token=forged-body", Ct));
        using var x = new HttpRequestMessage(HttpMethod.Post, "v1/webhooks/x") { Content = IngestServer.Body("forged-body") };
        x.Headers.TryAddWithoutValidation("x-twitter-webhooks-signature", crc["response_token"]!.GetValue<string>());
        var linkedin = await Http.ReadJsonAsync(await client.GetAsync("v1/webhooks/linkedin?challengeCode=forged-body", Ct));
        using var li = new HttpRequestMessage(HttpMethod.Post, "v1/webhooks/linkedin") { Content = IngestServer.Body("forged-body") };
        li.Headers.TryAddWithoutValidation("X-LI-Signature", linkedin["challengeResponse"]!.GetValue<string>());

        await Http.ReadProblemAsync(await client.SendAsync(x, Ct), HttpStatusCode.Unauthorized, "webhook-signature-invalid");
        await Http.ReadProblemAsync(await client.SendAsync(li, Ct), HttpStatusCode.Unauthorized, "webhook-signature-invalid");
        _ingest.Events.LastSnapshotSeq.ShouldBe(before);

        // The same key still signs real deliveries, which are JSON.
        using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes("app-secret-value"));
        var body = """{"for_user_id":"2244994945","user_event":{"revoke":{"source":{"user_id":"2244994945"}}}}""";
        using var real = new HttpRequestMessage(HttpMethod.Post, "v1/webhooks/x") { Content = IngestServer.Body(body) };
        real.Headers.TryAddWithoutValidation(
            "x-twitter-webhooks-signature", "sha256=" + Convert.ToBase64String(hmac.ComputeHash(Encoding.UTF8.GetBytes(body))));
        (await client.SendAsync(real, Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
        _ingest.Events.LastSnapshotSeq.ShouldBe(before + 1);
    }

    [Fact]
    public async Task SlackUrlVerification_IsAnsweredAfterTheSignatureVerifies_AndNotStored()
    {
        _ingest.Secrets["SLACK"] = "8f742231b10e8888abcd99yyyzzz85a5";
        await _ingest.PutSourceAsync("slack", JsonNode.Parse("""{"scheme":"slack","secrets":["env:SLACK"]}""")!.AsObject());
        using var client = _ingest.Server.CreateClient();
        var body = """{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}""";
        var ts = Now.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes("8f742231b10e8888abcd99yyyzzz85a5"));
        var signature = "v0=" + Convert.ToHexStringLower(hmac.ComputeHash(Encoding.UTF8.GetBytes($"v0:{ts}:{body}")));
        var before = _ingest.Events.LastSnapshotSeq;

        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/webhooks/slack") { Content = IngestServer.Body(body) };
        request.Headers.Add("X-Slack-Request-Timestamp", ts);
        request.Headers.Add("X-Slack-Signature", signature);
        using var response = await client.SendAsync(request, Ct);

        (response.StatusCode, await response.Content.ReadAsStringAsync(Ct)).ShouldBe((HttpStatusCode.OK, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"));
        _ingest.Events.LastSnapshotSeq.ShouldBe(before);
    }

    /// <summary>Delivers one signed event per id to the <c>partner</c> source; returns each snapshot's sequence number.</summary>
    private async Task<List<long>> DeliverAsync(StandardWebhookSigner signer, params string[] ids)
    {
        using var client = _ingest.Server.CreateClient();
        var seqs = new List<long>();
        foreach (var id in ids)
        {
            using var response = await client.SendAsync(signer.Request("partner", "msg_" + id, Now, Encoding.UTF8.GetBytes(IngestServer.Event(id, "partner"))), Ct);
            response.StatusCode.ShouldBe(HttpStatusCode.OK);
            seqs.Add(_ingest.Events.LastSnapshotSeq);
        }

        return seqs;
    }

    /// <summary>A connection of the test's own to the server's <c>events.db</c>, to plant triggers in.</summary>
    private SqliteConnection OpenEventLog()
    {
        var connection = new SqliteConnection($"Data Source={Path.Combine(_ingest.Server.DataDirectory, SqliteEventStoreOptions.FileName)};Pooling=False");
        connection.Open();
        return connection;
    }

    private static void Execute(SqliteConnection connection, string text)
    {
        using var command = connection.CreateCommand();
        command.CommandText = text;
        command.ExecuteNonQuery();
    }
}

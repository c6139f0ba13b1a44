using System.Text.Json.Nodes;
using Bulwark.Ingest;
using Bulwark.Server.Detection;
using Bulwark.TestUtils;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Cli.Tests;

/// <summary><c>bulwark rules</c>, <c>detectors</c>, <c>detections</c> and <c>incidents</c> against a server on loopback.</summary>
public sealed class DetectionCommandTests : IAsyncLifetime
{
    private BulwarkTestServer _server = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _server = await BulwarkTestServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private Task<(int Exit, string Out, string Err)> RunAsync(params string[] args) => CliRunner.RunAsync(_server.BaseAddress, BulwarkTestServer.AdminToken, args);


    [Fact]
    public async Task ApplyTheDefaultPack_ThenListRulesAndDetectors_ThenFollowAnIncidentToItsResolution()
    {
        var (applied, _, applyError) = await RunAsync("apply", "-f", ManifestCommandTests.ExamplesDirectory());
        applied.ShouldBe(0, applyError);

        var (_, rules, _) = await RunAsync("rules", "list");
        var (_, detectors, _) = await RunAsync("detectors", "list");
        var (_, rule, _) = await RunAsync("rules", "get", "reset-flood-per-ip");
        rules.ShouldContain("contact-change-then-token-rotation");
        detectors.ShouldContain("reset-volume-per-platform");
        JsonNode.Parse(rule)!["threshold"]!.GetValue<int>().ShouldBe(21);
        var (_, playbooks, _) = await RunAsync("playbooks", "list");
        var (_, connectors, _) = await RunAsync("connectors", "list", "--json");
        playbooks.ShouldContain("contact-change-then-token-rotation");
        var connector = JsonNode.Parse(connectors)!["items"]!.AsArray().First(c => c!["type"]!.GetValue<string>() == "slack")!;
        connector["secret"]!.GetValue<string>().ShouldStartWith("env:");

        // 21 resets from one IP within a minute fire reset-flood-per-ip; a later event moves event time past the lateness.
        var events = Enumerable.Range(0, 21)
            .Select(i => TestEvents.Json($"r-{i}", $"acct_{i:D6}", "203.0.113.5", "password_reset", $"2026-03-02T01:00:{i:D2}.000Z", new JsonObject { ["phase"] = "requested" }))
            .Append(TestEvents.Json("late", "acct_999999", "198.51.100.1", "session_new", "2026-03-02T01:10:00.000Z"));
        var file = Path.Combine(Path.GetTempPath(), $"bulwark-cli-{Guid.NewGuid():N}.jsonl");
        await File.WriteAllLinesAsync(file, events, Ct);
        try
        {
            var (pushed, _, pushError) = await RunAsync("events", "push", file, "--quiet");
            pushed.ShouldBe(0, pushError);
        }
        finally
        {
            File.Delete(file);
        }

        await _server.Services.GetRequiredService<DetectionPipeline>()
            .WhenHandledAsync(_server.Services.GetRequiredService<IEventStore>().LastOffset, Ct)
            .WaitAsync(TimeSpan.FromSeconds(30), Ct);

        var (_, detections, _) = await RunAsync("detections", "list", "--rule", "reset-flood-per-ip");
        detections.ShouldContain("reset-flood-per-ip");
        var (_, listed, _) = await RunAsync("incidents", "list", "--status", "open", "--json");
        var incident = JsonNode.Parse(listed)!["items"]!.AsArray().ShouldHaveSingleItem()!;
        var id = incident["id"]!.GetValue<string>();
        var (_, shown, _) = await RunAsync("incidents", "get", id);
        shown.ShouldContain("detection reset-flood-per-ip");
        shown.ShouldContain("run slow-reset-wave"); // the default pack's playbook for reset floods
        shown.ShouldContain("* password_reset");

        var frozen = await _server.Services.GetRequiredService<Bulwark.Server.Response.EvidenceService>()
            .SnapshotAsync(id, "cli-test", "by hand", null, null, new Bulwark.Server.Hosting.ChangeContext("admin", null), Ct);
        var (evidenceExit, evidence, evidenceError) = await RunAsync("incidents", "evidence", id);
        evidenceExit.ShouldBe(0, evidenceError);
        evidence.ShouldStartWith("ID");
        var (_, evidenceJson, _) = await RunAsync("incidents", "evidence", id, "--json");
        var stored = await _server.Store.ListEvidenceAsync(id, null, 100, Ct);
        stored.Select(e => e.Value.Id).ShouldContain(frozen.Id);
        JsonNode.Parse(evidenceJson)!["items"]!.AsArray().Select(e => e!["sha256"]!.GetValue<string>()).ShouldBe(stored.Select(e => e.Value.Sha256));
        foreach (var record in stored)
        {
            evidence.ShouldContain(record.Value.Id);
            evidence.ShouldContain(record.Value.Sha256);
        }

        var (absentExit, _, absentError) = await RunAsync("incidents", "evidence", "inc_absent");
        absentExit.ShouldBe(1);
        absentError.ShouldContain("404");

        var (resolved, resolveOut, resolveError) = await RunAsync("incidents", "resolve", id, "--verdict", "false_positive", "--note", "load test");
        var (again, _, againError) = await RunAsync("incidents", "resolve", id, "--verdict", "benign");
        var (badVerdict, _, _) = await RunAsync("incidents", "resolve", id, "--verdict", "maybe");

        resolved.ShouldBe(0, resolveError);
        resolveOut.ShouldContain("false_positive");
        again.ShouldBe(1);
        againError.ShouldContain("not open");
        badVerdict.ShouldBe(1);
    }
}

using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.TestUtils;

namespace Bulwark.Cli.Tests;

public sealed class MassActionCommandTests : IAsyncLifetime
{
    private BulwarkTestServer _server = null!;
    private string _alice = null!;
    private string _bob = null!;
    private string _carol = null!;
    private string _viewer = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await BulwarkTestServer.StartAsync();
        _alice = await _server.CreateIdentityTokenAsync("alice", Role.Operator, Role.Approver);
        _bob = await _server.CreateIdentityTokenAsync("bob", Role.Approver);
        _carol = await _server.CreateIdentityTokenAsync("carol", Role.Responder);
        _viewer = await _server.CreateIdentityTokenAsync("val", Role.Viewer);
        using var alice = _server.CreateClient(_alice);
        (await alice.PutAsync("v1/flags/bulk-reset", BulwarkTestServer.Json("""{"type":"kill-switch","owner":"o","purpose":"p"}"""))).EnsureSuccessStatusCode();
        (await alice.PostAsync("v1/flags/bulk-reset/state", BulwarkTestServer.Json("""{"state":"GRADUAL","percentage":100}"""))).EnsureSuccessStatusCode();
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private Task<(int Exit, string Out, string Err)> Run(string token, params string[] args) => CliRunner.RunAsync(_server.BaseAddress, token, args);

    private async Task<string> CreateAsync(string name, long audience)
    {
        using var alice = _server.CreateClient(_alice);
        using var response = await alice.PostAsync("v1/mass-actions", BulwarkTestServer.Json($$"""{"name":"{{name}}","action":"password-reset","flag":"bulk-reset","audience_size":{{audience}},"max_per_minute":600}"""));
        response.EnsureSuccessStatusCode();
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["status"]!["id"]!.GetValue<string>();
    }

    [Fact]
    public async Task ListAndGet_ShowStateAndProgress_AsTablesOrJson()
    {
        var small = await CreateAsync("reset-small", 500);
        var big = await CreateAsync("reset-big", 50_000);

        var (exit, table, err) = await Run(_viewer, "mass-actions", "list");
        exit.ShouldBe(0, err);
        table.ShouldStartWith("ID");
        table.Split('\n').ShouldContain(l => l.Contains(small, StringComparison.Ordinal) && l.Contains("reset-small", StringComparison.Ordinal) && l.Contains("running", StringComparison.Ordinal));
        table.Split('\n').ShouldContain(l => l.Contains(big, StringComparison.Ordinal) && l.Contains("pending_approval", StringComparison.Ordinal));

        var (_, json, _) = await Run(_viewer, "mass-actions", "list", "--state", "pending_approval", "--json");
        JsonNode.Parse(json)!["items"]!.AsArray().Select(i => i!["name"]!.GetValue<string>()).ShouldBe(["reset-big"]);
        (await Run(_viewer, "mass-actions", "list", "--state", "sleeping")).Exit.ShouldBe(2);

        var (getExit, details, _) = await Run(_viewer, "mass-actions", "get", "reset-big");
        getExit.ShouldBe(0);
        details.ShouldContain(big);
        details.ShouldContain("a second person to approve the start requested by alice");
        var (_, getJson, _) = await Run(_viewer, "mass-actions", "get", big, "--json");
        JsonNode.Parse(getJson)!["audience_size"]!.GetValue<long>().ShouldBe(50_000);
    }

    [Fact]
    public async Task Approve_AStart_ByASecondPerson()
    {
        var id = await CreateAsync("reset-big", 50_000);

        var (selfExit, _, selfErr) = await Run(_alice, "mass-actions", "approve", id);
        selfExit.ShouldBe(1);
        selfErr.ShouldContain("second person");

        var (exit, output, _) = await Run(_bob, "mass-actions", "approve", id);
        exit.ShouldBe(0);
        output.ShouldContain($"reset-big ({id}) is now running (approved by bob)");
    }

    [Fact]
    public async Task HaltThenResume_NeedsAReason_AResponder_AndASecondPerson()
    {
        var id = await CreateAsync("reset-nov", 500);
        (await Run(_carol, "mass-actions", "halt", id)).Exit.ShouldBe(2);
        var (viewerExit, _, viewerErr) = await Run(_viewer, "mass-actions", "halt", id, "--reason", "x");
        viewerExit.ShouldBe(1);
        viewerErr.ShouldContain("403");

        var (exit, halted, _) = await Run(_carol, "mass-actions", "halt", "reset-nov", "--reason", "support tickets spiking");
        exit.ShouldBe(0);
        halted.ShouldContain($"reset-nov ({id}) is now halted");
        var (_, details, _) = await Run(_viewer, "mass-actions", "get", id);
        details.ShouldContain("manual by carol");
        details.ShouldContain("support tickets spiking");

        var (resumeExit, requested, _) = await Run(_carol, "mass-actions", "resume", id, "--reason", "template fixed", "--json");
        resumeExit.ShouldBe(0);
        JsonNode.Parse(requested)!["status"]!.GetValue<string>().ShouldBe("pending_approval");
        var (_, approved, _) = await Run(_bob, "mass-actions", "approve", id);
        approved.ShouldContain("is now running (approved by bob)");
        (await _server.Store.GetMassActionAsync(id, TestContext.Current.CancellationToken))!.State.ShouldBe(Bulwark.MassActions.MassActionState.Running);
    }

    [Fact]
    public async Task Help_ListsTheSubcommands_AndAnUnreachableServerExits3()
    {
        var (exit, help, _) = await CliRunner.RunAsync(null, null, "mass-actions", "--help");
        exit.ShouldBe(0);
        foreach (var verb in new[] { "list", "get", "halt", "resume", "approve" })
        {
            help.ShouldContain(verb);
        }

        (await CliRunner.RunAsync(new Uri("http://127.0.0.1:9"), _viewer, "mass-actions", "list")).Exit.ShouldBe(3);
    }
}

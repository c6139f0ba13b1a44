using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.TestUtils;

namespace Bulwark.Cli.Tests;

public sealed class FlagCommandTests : IAsyncLifetime
{
    private BulwarkTestServer _server = null!;
    private string _alice = null!;
    private string _bob = null!;
    private string _carol = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await BulwarkTestServer.StartAsync();
        _alice = await _server.CreateIdentityTokenAsync("alice", Role.Operator);
        _bob = await _server.CreateIdentityTokenAsync("bob", Role.Approver);
        _carol = await _server.CreateIdentityTokenAsync("carol", Role.Responder);
        using var alice = _server.CreateClient(_alice);
        (await alice.PutAsync("v1/flags/reset-v2", BulwarkTestServer.Json("""{"type":"operational","owner":"o","purpose":"p"}"""))).EnsureSuccessStatusCode();
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private Task<(int Exit, string Out, string Err)> Run(string token, params string[] args) => CliRunner.RunAsync(_server.BaseAddress, token, args);

    [Fact]
    public async Task SetStateListAndHistory_ShowTheRollout()
    {
        var (exit, output, err) = await Run(_alice, "flags", "set-state", "reset-v2", "GRADUAL", "-p", "12.5", "--reason", "ramp");
        exit.ShouldBe(0, err);
        output.ShouldContain("reset-v2 is now GRADUAL (12.5%)");

        var (_, list, _) = await Run(_alice, "flags", "list");
        list.ShouldContain("reset-v2");
        list.ShouldContain("12.5%");
        var (_, history, _) = await Run(_alice, "flags", "history", "reset-v2");
        history.ShouldContain("flag.state");
        history.ShouldContain("ramp");
    }

    [Fact]
    public async Task Global_GoesThroughChangesApprove_ByASecondPerson()
    {
        var (_, requested, _) = await Run(_alice, "flags", "set-state", "reset-v2", "GLOBAL", "--json");
        var id = JsonNode.Parse(requested)!["change_id"]!.GetValue<string>();

        var (_, pending, _) = await Run(_bob, "changes", "list");
        pending.ShouldContain(id);
        var (selfExit, _, selfErr) = await Run(_alice, "changes", "approve", id);
        selfExit.ShouldBe(1);
        selfErr.ShouldContain("403");

        var (exit, approved, _) = await Run(_bob, "changes", "approve", id);
        exit.ShouldBe(0);
        approved.ShouldContain($"change {id} approved; reset-v2 is now GLOBAL");
    }

    [Fact]
    public async Task Kill_NeedsAReasonAndAResponder()
    {
        (await Run(_carol, "flags", "kill", "reset-v2")).Exit.ShouldBe(2);
        (await Run(_alice, "flags", "kill", "reset-v2", "--reason", "x")).Exit.ShouldBe(1);

        var (exit, output, _) = await Run(_carol, "flags", "kill", "reset-v2", "--reason", "reset surge");

        exit.ShouldBe(0);
        output.ShouldContain("reset-v2 is now EMERGENCY_OFF");
        (await _server.Store.GetFlagAsync("reset-v2", TestContext.Current.CancellationToken))!.Status.State.ShouldBe(Bulwark.Flags.FlagState.EmergencyOff);
    }
}

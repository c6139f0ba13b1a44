using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.TestUtils;

namespace Bulwark.Cli.Tests;

public sealed class ThrottleCommandTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new();
    private BulwarkTestServer _server = null!;
    private string _operator = null!;
    private string _responder = null!;
    private string _viewer = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await BulwarkTestServer.StartAsync(time: _time);
        _operator = await _server.CreateIdentityTokenAsync("ops", Role.Operator);
        _responder = await _server.CreateIdentityTokenAsync("oncall", Role.Responder);
        _viewer = await _server.CreateIdentityTokenAsync("app", Role.Viewer);
        using var ops = _server.CreateClient(_operator);
        foreach (var (name, policy) in new[]
        {
            ("password-reset", """{"description":"Reset requests","layers":[{"key":"ip","limit":3,"per":"1m"},{"name":"ip-daily","key":"ip","limit":100,"per":"1d"},{"key":"user","limit":5,"per":"1h","burst":10}],"escalation":{"window":"10m","challenge_after":2,"block_after":4,"block_for":"1h"}}"""),
            ("login", """{"layers":[{"key":"ip","limit":1,"per":"1h"},{"key":"subnet","limit":1,"per":"1h"}],"escalation":{"window":"1h","block_after":2,"block_for":"1h"}}"""),
            ("signup", """{"layers":[{"key":"ip","limit":1,"per":"1m"}],"escalation":{"window":"1h","challenge_after":1,"block_after":3}}"""),
            ("dark", """{"shadow":true,"layers":[{"key":"user","limit":1,"per":"1h"}]}"""),
        })
        {
            (await ops.PutAsync($"v1/throttles/{name}", BulwarkTestServer.Json(policy))).EnsureSuccessStatusCode();
        }
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    public static TheoryData<string, string> Subcommands() => new()
    {
        { "list", "--json" },
        { "get", "<name>" },
        { "check", "--key" },
        { "tighten", "--factor" },
        { "relax", "<name>" },
        { "blocks", "--unblock" },
        { "block", "--reason" },
        { "unblock", "--layer" },
    };

    private Task<(int Exit, string Out, string Err)> Run(string token, params string[] args) => CliRunner.RunAsync(_server.BaseAddress, token, args);

    private static string Row(string table, string first) => table.Split('\n').Single(l => l.StartsWith(first + " ", StringComparison.Ordinal)).TrimEnd();

    [Fact]
    public async Task List_ShowsLayersShadowAndNoTightening()
    {
        var (exit, output, err) = await Run(_viewer, "throttles", "list");

        exit.ShouldBe(0, err);
        output.ShouldStartWith("NAME");
        Row(output, "password-reset").ShouldMatch(@"^password-reset\s+ip 3/1m; ip-daily \(ip\) 100/1d; user 5/1h burst 10\s+false\s+-$");
        Row(output, "dark").ShouldMatch(@"^dark\s+user 1/1h\s+true\s+-$");

        var (_, json, _) = await Run(_viewer, "throttles", "list", "--json");
        JsonNode.Parse(json)!["items"]!.AsArray().Select(t => t!["name"]!.GetValue<string>()).ShouldBe(["dark", "login", "password-reset", "signup"], ignoreOrder: true);
    }

    [Fact]
    public async Task Get_ShowsPolicyAndLayers_JsonIsTheDocument_MissingIs404()
    {
        var (exit, output, err) = await Run(_viewer, "throttles", "get", "password-reset");

        exit.ShouldBe(0, err);
        output.ShouldContain("description  Reset requests");
        output.ShouldContain("escalation   challenge after 2, block for 1h after 4 denials within 10m");
        output.ShouldContain("tightened    -");
        Row(output, "ip-daily").ShouldMatch(@"^ip-daily\s+ip\s+100\s+1d\s+100$");

        var (_, json, _) = await Run(_viewer, "throttles", "get", "password-reset", "--json");
        var document = JsonNode.Parse(json)!;
        (document["name"]!.GetValue<string>(), document["status"]!["version"]!.GetValue<long>() > 0).ShouldBe(("password-reset", true));

        var (missingExit, _, missingErr) = await Run(_viewer, "throttles", "get", "nope");
        missingExit.ShouldBe(1);
        missingErr.ShouldContain("404");
        missingErr.ShouldContain("'nope'");
    }

    [Fact]
    public async Task Check_AllowThenBlock_ExitCodes0Then5_WithTheRateLimitHeaders()
    {
        for (var i = 0; i < 2; i++)
        {
            (await Run(_viewer, "throttles", "check", "password-reset", "--key", "ip=198.51.100.7", "--key", "user=alice")).Exit.ShouldBe(0);
        }

        var (exit, output, err) = await Run(_viewer, "throttles", "check", "password-reset", "--key", "ip=198.51.100.7", "--key", "user=alice");
        exit.ShouldBe(0, err);
        Row(output, "allow").ShouldMatch(@"^allow\s+none\s+ip\s+3/1m\s+0\s+1m\s+-$");
        output.ShouldContain("RateLimit-Policy: \"ip\";q=3;w=60, \"ip-daily\";q=100;w=86400, \"user\";q=5;w=3600");
        output.ShouldContain("RateLimit: \"ip\";r=0;t=60");
        output.ShouldContain("X-RateLimit-Remaining: 0");
        output.ShouldNotContain("Retry-After");

        var (blockExit, blocked, blockErr) = await Run(_viewer, "throttles", "check", "password-reset", "--key", "ip=198.51.100.7");
        blockExit.ShouldBe(5, blockErr);
        blockErr.ShouldBeEmpty();
        Row(blocked, "block").ShouldMatch(@"^block\s+rate_exceeded\s+ip\s+3/1m\s+0\s+1m\s+20s$");
        blocked.ShouldContain("Retry-After: 20");

        var (jsonExit, json, _) = await Run(_viewer, "throttles", "check", "password-reset", "--key", "ip=198.51.100.7", "--json");
        jsonExit.ShouldBe(5);
        var body = JsonNode.Parse(json)!;
        (body["decision"]!.GetValue<string>(), body["reason"]!.GetValue<string>(), body["retry_after_ms"]!.GetValue<long>()).ShouldBe(("block", "rate_exceeded", 20_000L));
    }

    [Fact]
    public async Task Check_EscalatedKey_IsAChallenge_Exit4()
    {
        (await Run(_viewer, "throttles", "check", "signup", "--key", "ip=2001:db8::1")).Exit.ShouldBe(0);
        (await Run(_viewer, "throttles", "check", "signup", "--key", "ip=2001:db8::1")).Exit.ShouldBe(5);
        _time.Advance(TimeSpan.FromMinutes(1));

        var (exit, output, err) = await Run(_viewer, "throttles", "check", "signup", "--key", "ip=2001:db8::1");

        exit.ShouldBe(4, err);
        Row(output, "challenge").ShouldMatch(@"^challenge\s+escalated\s+ip\s+1/1m\s+0\s+1m\s+-$");
    }

    [Fact]
    public async Task Check_Shadow_AllowsAndSaysWhatItWouldHaveDone()
    {
        (await Run(_viewer, "throttles", "check", "dark", "--key", "user=u")).Exit.ShouldBe(0);

        var (exit, output, _) = await Run(_viewer, "throttles", "check", "dark", "--key", "user=u");

        exit.ShouldBe(0);
        output.ShouldContain("shadow: the throttle would have answered block");
    }

    [Fact]
    public async Task Check_BadInput_UsageErrorsAreExit2_ServerProblemsExit1()
    {
        var (noValue, _, noValueErr) = await Run(_viewer, "throttles", "check", "password-reset", "--key", "ip");
        noValue.ShouldBe(2);
        noValueErr.ShouldContain("--key 'ip' is not NAME=VALUE");
        (await Run(_viewer, "throttles", "check", "password-reset", "--key", "ip=1.2.3.4", "--key", "ip=5.6.7.8")).Exit.ShouldBe(2);
        (await Run(_viewer, "throttles", "check", "password-reset", "--cost", "many")).Exit.ShouldBe(2);

        var (cost, _, costErr) = await Run(_viewer, "throttles", "check", "password-reset", "--key", "ip=1.2.3.4", "--cost", "2000000000");
        cost.ShouldBe(1);
        costErr.ShouldContain("422");
        costErr.ShouldContain("  /cost: ");

        var (missing, _, missingErr) = await Run(_viewer, "throttles", "check", "nope", "--key", "ip=1.2.3.4");
        missing.ShouldBe(1);
        missingErr.ShouldContain("404");

        var (unreachable, _, _) = await CliRunner.RunAsync(new Uri("http://127.0.0.1:1"), _viewer, "throttles", "check", "password-reset", "--key", "ip=1.2.3.4");
        unreachable.ShouldBe(3);
    }

    [Fact]
    public async Task TightenThenRelax_ListShowsTheTighteningUntilRelaxed()
    {
        var (exit, output, err) = await Run(_responder, "throttles", "tighten", "password-reset", "--factor", "3", "--ttl", "30m", "--layer", "ip", "--reason", "reset wave");

        exit.ShouldBe(0, err);
        output.ShouldBe("password-reset tightened: 3x on ip until 2026-11-21T09:30:00.000000Z by oncall: reset wave\n", StringCompareShould.IgnoreLineEndings);
        var (_, list, _) = await Run(_viewer, "throttles", "list");
        Row(list, "password-reset").ShouldMatch(@"\sfalse\s+3x on ip until 2026-11-21T09:30:00\.000000Z by oncall: reset wave$");
        var (_, check, _) = await Run(_viewer, "throttles", "check", "password-reset", "--key", "ip=192.0.2.1");
        Row(check, "allow").ShouldMatch(@"^allow\s+none\s+ip\s+1/1m\s");

        var (relaxExit, relaxed, _) = await Run(_responder, "throttles", "relax", "password-reset");

        relaxExit.ShouldBe(0);
        relaxed.ShouldContain("password-reset relaxed");
        Row((await Run(_viewer, "throttles", "list")).Out, "password-reset").ShouldMatch(@"\sfalse\s+-$");
        var (_, json, _) = await Run(_viewer, "throttles", "get", "password-reset", "--json");
        JsonNode.Parse(json)!["status"]!["tightening"].ShouldBeNull();
    }

    [Fact]
    public async Task Tighten_Invalid_NamesEachField_AndNeedsAResponder()
    {
        var (exit, _, err) = await Run(_responder, "throttles", "tighten", "password-reset", "--factor", "1", "--ttl", "forever", "--reason", "r");
        exit.ShouldBe(1);
        err.ShouldContain("422");
        err.ShouldContain("  /factor: must be above 1");
        err.ShouldContain("  /ttl: ");

        var (layerExit, _, layerErr) = await Run(_responder, "throttles", "tighten", "password-reset", "--factor", "2", "--ttl", "1h", "--layer", "nope", "--reason", "r");
        layerExit.ShouldBe(1);
        layerErr.ShouldContain("no layer 'nope'");

        (await Run(_responder, "throttles", "tighten", "password-reset", "--factor", "2", "--ttl", "1h")).Exit.ShouldBe(2);
        var (viewerExit, _, viewerErr) = await Run(_viewer, "throttles", "tighten", "password-reset", "--factor", "2", "--ttl", "1h", "--reason", "r");
        viewerExit.ShouldBe(1);
        viewerErr.ShouldContain("403");
        (await Run(_viewer, "throttles", "relax", "password-reset")).Exit.ShouldBe(1);

        // --token wins over $BULWARK_TOKEN, as for every command.
        (await Run(_viewer, "throttles", "tighten", "password-reset", "--factor", "2", "--ttl", "1h", "--reason", "r", "--token", _responder)).Exit.ShouldBe(0);
    }

    [Fact]
    public async Task Blocks_ListsEscalatedKeys_AndUnblockLiftsThemPerLayer_WithTheKeyEscaped()
    {
        await BlockAsync("2001:db8::7");

        var (exit, output, err) = await Run(_viewer, "throttles", "blocks", "login");
        exit.ShouldBe(0, err);
        output.ShouldStartWith("KIND");
        output.ShouldContain("escalation  ip      2001:db8::7    2026-11-21T10:00:00.000000Z  2");
        output.ShouldContain("escalation  subnet  2001:db8::/64  2026-11-21T10:00:00.000000Z  2");
        var (blockedExit, blocked, _) = await Run(_viewer, "throttles", "check", "login", "--key", "ip=2001:db8::7");
        blockedExit.ShouldBe(5);
        Row(blocked, "block").ShouldMatch(@"^block\s+blocked\s+ip\s+1/1h\s+0\s+1h\s+1h$");

        var (viewerExit, _, viewerErr) = await Run(_viewer, "throttles", "blocks", "login", "--unblock", "2001:db8::7");
        viewerExit.ShouldBe(1);
        viewerErr.ShouldContain("403");
        var (ipExit, unblocked, ipErr) = await Run(_responder, "throttles", "blocks", "login", "--unblock", "2001:db8::7", "--layer", "ip");
        ipExit.ShouldBe(0, ipErr);
        unblocked.ShouldContain("login: unblocked 2001:db8::7 in layer ip");
        var (_, left, _) = await Run(_viewer, "throttles", "blocks", "login");
        left.ShouldNotContain("2001:db8::7 ");
        Row(left, "escalation").ShouldContain("2001:db8::/64");

        (await Run(_responder, "throttles", "blocks", "login", "--unblock", "2001:db8::/64", "--layer", "subnet")).Exit.ShouldBe(0);
        var (_, json, _) = await Run(_viewer, "throttles", "blocks", "login", "--json");
        JsonNode.Parse(json)!["items"]!.AsArray().ShouldBeEmpty();
        var (againExit, _, againErr) = await Run(_responder, "throttles", "blocks", "login", "--unblock", "2001:db8::7");
        againExit.ShouldBe(1);
        againErr.ShouldContain("404");
        (await Run(_responder, "throttles", "blocks", "login", "--layer", "ip")).Exit.ShouldBe(2);
    }

    [Fact]
    public async Task Block_BlocksAKeyUntilItLapsesOrIsLifted_ListedWithWhoAndWhy()
    {
        var (viewerExit, _, viewerErr) = await Run(_viewer, "throttles", "block", "password-reset", "mallory", "--reason", "takeover");
        var (exit, output, err) = await Run(_responder, "throttles", "block", "password-reset", "mallory", "--for", "2h", "--reason", "takeover");
        var (longerExit, longer, _) = await Run(_responder, "throttles", "block", "password-reset", "mallory", "--for", "1d", "--reason", "confirmed", "--json");

        viewerExit.ShouldBe(1);
        viewerErr.ShouldContain("403");
        exit.ShouldBe(0, err);
        output.ShouldContain("password-reset: mallory blocked until 2026-11-21T11:00:00.000000Z");
        longerExit.ShouldBe(0);
        var block = JsonNode.Parse(longer)!;
        (block["until"]!.GetValue<string>(), block["previous_until"]!.GetValue<string>()).ShouldBe(("2026-11-22T09:00:00.000000Z", "2026-11-21T11:00:00.000000Z"));
        var (_, listed, _) = await Run(_viewer, "throttles", "blocks", "password-reset");
        Row(listed, "manual").ShouldMatch(@"^manual\s+-\s+mallory\s+2026-11-22T09:00:00\.000000Z\s+-\s+oncall\s+confirmed$");
        var (checkExit, check, _) = await Run(_viewer, "throttles", "check", "password-reset", "--key", "user=mallory", "--json");
        checkExit.ShouldBe(5);
        (JsonNode.Parse(check)!["reason"]!.GetValue<string>(), JsonNode.Parse(check)!["block"]!.GetValue<string>()).ShouldBe(("blocked", "manual"));

        var (unblockExit, unblocked, unblockErr) = await Run(_responder, "throttles", "unblock", "password-reset", "mallory");
        var (againExit, _, againErr) = await Run(_responder, "throttles", "unblock", "password-reset", "mallory");

        unblockExit.ShouldBe(0, unblockErr);
        unblocked.ShouldContain("password-reset: unblocked mallory");
        againExit.ShouldBe(1);
        againErr.ShouldContain("404");
        (await Run(_viewer, "throttles", "check", "password-reset", "--key", "user=mallory")).Exit.ShouldBe(0);
    }

    [Fact]
    public async Task Block_BadInput_IsAnErrorWithTheServersReason_AndAMissingReasonAUsageError()
    {
        var (exit, _, err) = await Run(_responder, "throttles", "block", "password-reset", "198.51.100.0/16", "--for", "60d", "--reason", "r");
        var (usage, _, _) = await Run(_responder, "throttles", "block", "password-reset", "mallory");

        exit.ShouldBe(1);
        err.ShouldContain("422");
        err.ShouldContain("198.51.100.0/24");
        usage.ShouldBe(2);
    }

    [Fact]
    public async Task Unblock_LiftsAnEscalationBlockPerLayer_WithTheKeyEscaped()
    {
        await BlockAsync("198.51.100.9");

        var (exit, output, err) = await Run(_responder, "throttles", "unblock", "login", "198.51.100.0/24", "--layer", "subnet");

        exit.ShouldBe(0, err);
        output.ShouldContain("login: unblocked 198.51.100.0/24 in layer subnet");
        var (_, left, _) = await Run(_viewer, "throttles", "blocks", "login");
        Row(left, "escalation").ShouldContain("198.51.100.9");
    }

    [Fact]
    public async Task Unblock_KeyWithASlash_LiftsTheBlock()
    {
        await BlockAsync("198.51.100.9");

        var (exit, _, err) = await Run(_responder, "throttles", "blocks", "login", "--unblock", "198.51.100.0/24", "--layer", "subnet");

        exit.ShouldBe(0, err);
    }

    /// <summary>Three checks of one address against <c>login</c> (1 per hour, blocked after 2 denials): blocked in both layers.</summary>
    private async Task BlockAsync(string ip)
    {
        for (var i = 0; i < 3; i++)
        {
            await Run(_viewer, "throttles", "check", "login", "--key", "ip=" + ip);
        }
    }

    [Theory]
    [MemberData(nameof(Subcommands))]
    public async Task Help_DescribesEachSubcommand(string subcommand, string mentions)
    {
        var (exit, output, _) = await CliRunner.RunAsync(null, null, "throttles", subcommand, "--help");

        exit.ShouldBe(0);
        output.ShouldContain("Description:");
        output.ShouldContain($"throttles {subcommand}");
        output.ShouldContain(mentions);
        output.ShouldContain("--server");
    }

    [Fact]
    public async Task CheckHelp_DocumentsTheExitCodes()
    {
        var (_, output, _) = await CliRunner.RunAsync(null, null, "throttles", "check", "--help");

        output.ShouldContain("0: allow, 4: challenge, 5: block");
    }
}

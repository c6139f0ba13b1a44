using System.CommandLine;
using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Cli.Commands;
using Bulwark.TestUtils;

namespace Bulwark.Cli.Tests;

public sealed class ClientCommandTests : IAsyncLifetime
{
    private BulwarkTestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await BulwarkTestServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    public static TheoryData<string> EveryCommand()
    {
        var data = new TheoryData<string>();
        void Walk(Command command, string prefix)
        {
            foreach (var sub in command.Subcommands)
            {
                var path = (prefix + " " + sub.Name).Trim();
                data.Add(path);
                Walk(sub, path);
            }
        }

        Walk(BulwarkCli.CreateRoot(new CliContext(TextWriter.Null, TextWriter.Null, _ => null)), string.Empty);
        return data;
    }

    [Theory]
    [MemberData(nameof(EveryCommand))]
    public async Task EveryCommand_HasHelp(string command)
    {
        var (exit, output, _) = await CliRunner.RunAsync(null, null, [.. command.Split(' '), "--help"]);

        exit.ShouldBe(0);
        output.ShouldContain("Usage:");
        output.ShouldContain(command.Split(' ')[^1]);
        output.ShouldContain("Description:");
    }

    [Fact]
    public async Task TokenCreate_CreatesTheIdentityAndAWorkingTokenShownOnce_ListNeverShowsIt()
    {
        var (exit, output, err) = await CliRunner.RunAsync(_server.BaseAddress, BulwarkTestServer.AdminToken, "token", "create", "--name", "ci-bot", "--role", "operator", "--label", "ci", "--json");

        exit.ShouldBe(0, err);
        var created = JsonNode.Parse(output)!;
        var token = created["token"]!.GetValue<string>();
        var (whoExit, who, _) = await CliRunner.RunAsync(_server.BaseAddress, token, "whoami", "--json");
        whoExit.ShouldBe(0);
        JsonNode.Parse(who)!["roles"]!.AsArray().Select(r => r!.GetValue<string>()).ShouldBe(["operator"]);

        var (_, list, _) = await CliRunner.RunAsync(_server.BaseAddress, BulwarkTestServer.AdminToken, "token", "list");
        list.ShouldContain(created["id"]!.GetValue<string>());
        list.ShouldNotContain(token);

        var (revokeExit, _, _) = await CliRunner.RunAsync(_server.BaseAddress, BulwarkTestServer.AdminToken, "token", "revoke", created["id"]!.GetValue<string>());
        revokeExit.ShouldBe(0);
        (await CliRunner.RunAsync(_server.BaseAddress, token, "whoami")).Exit.ShouldBe(1);
    }

    [Fact]
    public async Task TokenCreate_ExistingIdentityWithOtherRoles_RefusesAndCreatesNoToken()
    {
        await _server.CreateIdentityTokenAsync("viewer-1", Bulwark.Identity.Role.Viewer);
        var tokensBefore = (await _server.Store.ListTokensAsync("viewer-1", TestContext.Current.CancellationToken)).Count;

        var (exit, _, err) = await CliRunner.RunAsync(_server.BaseAddress, BulwarkTestServer.AdminToken, "token", "create", "--name", "viewer-1", "--role", "admin");

        exit.ShouldBe(1);
        err.ShouldContain("exists with roles [viewer]");
        (await _server.Store.ListTokensAsync("viewer-1", TestContext.Current.CancellationToken)).Count.ShouldBe(tokensBefore);
    }

    [Fact]
    public async Task TokenCreate_UnknownRole_IsAUsageError()
    {
        var (exit, _, err) = await CliRunner.RunAsync(_server.BaseAddress, BulwarkTestServer.AdminToken, "token", "create", "--name", "x", "--role", "root");

        exit.ShouldBe(2);
        err.ShouldContain("'root' is not a role");
    }

    [Fact]
    public async Task AuditVerify_IntactThenTampered_ExitCodesFollow()
    {
        var (okExit, ok, _) = await CliRunner.RunAsync(_server.BaseAddress, BulwarkTestServer.AdminToken, "audit", "verify");
        okExit.ShouldBe(0);
        ok.ShouldStartWith("ok: 2 entries");

        SqliteFile.Tamper(_server.DatabasePath, "UPDATE audit SET actor = 'mallory' WHERE seq = 1;");
        var (badExit, bad, _) = await CliRunner.RunAsync(_server.BaseAddress, BulwarkTestServer.AdminToken, "audit", "verify", "--json");

        badExit.ShouldBe(1);
        JsonNode.Parse(bad)!["first_bad_seq"]!.GetValue<long>().ShouldBe(1);
    }

    [Fact]
    public async Task AuditExportJsonl_CanBeVerifiedOutsideBulwark()
    {
        for (var i = 0; i < 5; i++)
        {
            await _server.CreateIdentityTokenAsync($"exported-{i}", Bulwark.Identity.Role.Viewer);
        }

        var (exit, output, _) = await CliRunner.RunAsync(_server.BaseAddress, BulwarkTestServer.AdminToken, "audit", "export", "--format", "jsonl");

        exit.ShouldBe(0);
        var verifier = new AuditVerifier();
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        foreach (var line in lines)
        {
            var e = JsonNode.Parse(line)!;
            verifier.Add(new AuditEntry
            {
                Seq = e["seq"]!.GetValue<long>(),
                Time = AuditChain.ParseTime(e["time"]!.GetValue<string>()),
                Actor = e["actor"]!.GetValue<string>(),
                Action = e["action"]!.GetValue<string>(),
                Target = e["target"]!.GetValue<string>(),
                Before = Bulwark.Json.CanonicalJson.Serialize(e["before"]),
                After = Bulwark.Json.CanonicalJson.Serialize(e["after"]),
                Reason = e["reason"]?.GetValue<string>(),
                CorrelationId = e["correlation_id"]?.GetValue<string>(),
                PrevHash = e["prev_hash"]!.GetValue<string>(),
                Hash = e["hash"]!.GetValue<string>(),
            });
        }

        lines.Length.ShouldBe(12);
        verifier.Complete().Ok.ShouldBeTrue();
    }

    [Fact]
    public async Task AuditExportCsv_HasHeaderAndOneQuotedRowPerEntry()
    {
        var (exit, output, _) = await CliRunner.RunAsync(_server.BaseAddress, BulwarkTestServer.AdminToken, "audit", "export", "--format", "csv");

        exit.ShouldBe(0);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines[0].ShouldBe("seq,time,actor,action,target,before,after,reason,correlation_id,prev_hash,hash");
        lines.Length.ShouldBe(3);
        lines[1].ShouldStartWith("1,");
        lines[1].ShouldContain("\"{\"\"description\"\"");
    }

    [Fact]
    public async Task AuditTail_PrintsTheLatestEntries()
    {
        var (exit, output, _) = await CliRunner.RunAsync(_server.BaseAddress, BulwarkTestServer.AdminToken, "audit", "tail", "-n", "1");

        exit.ShouldBe(0);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Length.ShouldBe(2);
        lines[1].ShouldContain("token.create");
    }

    [Fact]
    public async Task UnreachableServer_ExitsWith3()
    {
        var (exit, _, err) = await CliRunner.RunAsync(new Uri("http://127.0.0.1:1/"), "bwk_x", "audit", "verify");

        exit.ShouldBe(3);
        err.ShouldContain("Cannot reach the Bulwark server");
    }

    [Fact]
    public async Task MissingToken_Exits1WithThe401Problem()
    {
        var (exit, _, err) = await CliRunner.RunAsync(_server.BaseAddress, null, "audit", "verify");

        exit.ShouldBe(1);
        err.ShouldContain("401");
    }

    [Fact]
    public async Task ServerAndTokenOptions_OverrideTheEnvironment()
    {
        var (exit, output, _) = await CliRunner.RunAsync(new Uri("http://127.0.0.1:1/"), "wrong", "whoami", "--server", _server.BaseAddress.ToString(), "--token", BulwarkTestServer.AdminToken);

        exit.ShouldBe(0);
        output.ShouldContain("admin");
    }
}

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

        await PutNonAsciiIdentityAsync();

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

        lines.Length.ShouldBe(13);
        var head = await _server.Store.GetRecordedAuditHeadAsync(TestContext.Current.CancellationToken);
        verifier.Complete(head).Ok.ShouldBeTrue();
    }

    [Fact]
    public async Task AuditExportCsv_HoldsCanonicalJsonSoEveryRowVerifiesOutsideBulwark()
    {
        await PutNonAsciiIdentityAsync();
        var (exit, output, _) = await CliRunner.RunAsync(_server.BaseAddress, BulwarkTestServer.AdminToken, "audit", "export", "--format", "csv");

        exit.ShouldBe(0);
        var rows = ParseCsv(output);
        rows[0].ShouldBe(["seq", "time", "actor", "action", "target", "before", "after", "reason", "correlation_id", "prev_hash", "hash"]);
        rows.Count.ShouldBe(4);
        rows[3][6].ShouldContain("Zoë & <ops> 🚀".Replace("🚀", string.Empty, StringComparison.Ordinal));
        var verifier = new AuditVerifier();
        foreach (var row in rows.Skip(1))
        {
            string? Field(int i) => row[i].Length == 0 ? null : row[i];
            verifier.Add(new AuditEntry
            {
                Seq = long.Parse(row[0], System.Globalization.CultureInfo.InvariantCulture),
                Time = AuditChain.ParseTime(row[1]),
                Actor = row[2],
                Action = row[3],
                Target = row[4],
                Before = Field(5),
                After = Field(6),
                Reason = Field(7),
                CorrelationId = Field(8),
                PrevHash = row[9],
                Hash = row[10],
            });
        }

        var result = verifier.Complete(await _server.Store.GetRecordedAuditHeadAsync(TestContext.Current.CancellationToken));
        result.Ok.ShouldBeTrue(result.Problem);
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

    [Theory]
    [InlineData("127.0.0.1:5380")]
    [InlineData("ftp://127.0.0.1/")]
    [InlineData("not a url")]
    public async Task MalformedServerUrl_IsAUsageError(string server)
    {
        var (exit, _, err) = await CliRunner.RunAsync(null, BulwarkTestServer.AdminToken, "audit", "verify", "--server", server);

        exit.ShouldBe(2);
        err.ShouldContain("is not a server URL");
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

    private async Task PutNonAsciiIdentityAsync()
    {
        using var admin = _server.CreateAdminClient();
        using var response = await admin.PutAsync("v1/identities/zoe", BulwarkTestServer.Json("""{"roles":["viewer"],"description":"Zoë & <ops> 🚀 \"quoted\", with comma"}"""), TestContext.Current.CancellationToken);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>RFC 4180 parsing, written here so the test does not trust the exporter's own quoting.</summary>
    private static List<string[]> ParseCsv(string text)
    {
        var rows = new List<string[]>();
        var fields = new List<string>();
        var field = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else if (c == '\n')
            {
                fields.Add(field.ToString());
                field.Clear();
                rows.Add([.. fields]);
                fields.Clear();
            }
            else if (c != '\r')
            {
                field.Append(c);
            }
        }

        return rows;
    }
}

using System.Text.Json.Nodes;
using Bulwark.TestUtils;

namespace Bulwark.Cli.Tests;

public sealed class ManifestCommandTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _files = new();
    private BulwarkTestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await BulwarkTestServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    public void Dispose() => _files.Dispose();

    [Fact]
    public async Task Validate_InvalidFile_ReportsEveryErrorWithFileAndLine()
    {
        var path = Write("team.yaml", """
            # comment line 1
            kind: Identity
            name: alice
            roles:
              - operator
              - wizard
            colour: blue
            ---
            kind: Gadget
            name: x
            ---
            kind: Identity
            name: alice
            roles: [viewer]
            """);

        var (exit, _, err) = await CliRunner.RunAsync(null, null, "validate", "-f", path);

        exit.ShouldBe(1);
        err.ShouldContain($"{path}:6: /roles/1: 'wizard' is not a role");
        err.ShouldContain($"{path}:7: /colour: unknown field");
        err.ShouldContain($"{path}:9: /kind: 'Gadget' is not a kind");
        err.ShouldContain($"{path}:13: /name: Identity 'alice' is also defined at {path}:2");
    }

    [Fact]
    public async Task Validate_BrokenYamlAndDuplicateKeys_NameTheLine()
    {
        var broken = Write("broken.yaml", "kind: Identity\nname: [unclosed\nroles: x\n");
        var duplicate = Write("dup.yaml", "kind: Identity\nname: a\nname: b\nroles: [viewer]\n");

        var (exit1, _, err1) = await CliRunner.RunAsync(null, null, "validate", "-f", broken);
        var (exit2, _, err2) = await CliRunner.RunAsync(null, null, "validate", "-f", duplicate);

        exit1.ShouldBe(1);
        err1.ShouldMatch($"{Regex(broken)}:[23]: not valid YAML");
        exit2.ShouldBe(1);
        err2.ShouldContain($"{duplicate}:3: not valid YAML: Duplicate key name");
    }

    [Fact]
    public async Task Validate_ExampleManifests_AreValidAsJson()
    {
        var (exit, output, _) = await CliRunner.RunAsync(null, null, "validate", "-f", ExamplesDirectory(), "--json");

        exit.ShouldBe(0);
        var result = JsonNode.Parse(output)!;
        result["ok"]!.GetValue<bool>().ShouldBeTrue();
        result["manifests"]!.GetValue<int>().ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task DiffApplyDiff_AppliesOnceThenReportsNoDifferencesAndWritesNoMoreAudit()
    {
        var path = Write("team.yaml", "kind: Identity\nname: alice\nroles: [operator]\n---\nkind: Identity\nname: bob\nroles: [approver]\ndescription: sec\n");

        var (diffExit, diff, _) = await CliRunner.RunAsync(_server.BaseAddress, BulwarkTestServer.AdminToken, "diff", "-f", path);
        diffExit.ShouldBe(1);
        diff.ShouldContain("+++ Identity/alice");
        diff.ShouldContain("+   \"name\": \"alice\"");

        var (applyExit, applied, _) = await CliRunner.RunAsync(_server.BaseAddress, BulwarkTestServer.AdminToken, "apply", "-f", path, "--reason", "onboarding");
        applyExit.ShouldBe(0);
        applied.ShouldContain("Identity/alice created");
        var head = (await _server.Store.GetRecordedAuditHeadAsync(TestContext.Current.CancellationToken)).Seq;
        (await _server.Store.ReadAuditAsync(0, 100, TestContext.Current.CancellationToken))[^1].Reason.ShouldBe("onboarding");

        var (againExit, again, _) = await CliRunner.RunAsync(_server.BaseAddress, BulwarkTestServer.AdminToken, "apply", "-f", path);
        againExit.ShouldBe(0);
        again.ShouldContain("Identity/alice unchanged");
        (await _server.Store.GetRecordedAuditHeadAsync(TestContext.Current.CancellationToken)).Seq.ShouldBe(head);

        var (cleanExit, clean, _) = await CliRunner.RunAsync(_server.BaseAddress, BulwarkTestServer.AdminToken, "diff", "-f", path);
        cleanExit.ShouldBe(0);
        clean.ShouldContain("no differences");
    }

    [Fact]
    public async Task Diff_AfterAChangeOnTheServer_ShowsRemovedAndAddedLines()
    {
        var path = Write("one.yaml", "kind: Identity\nname: carol\nroles: [responder]\n");
        await CliRunner.RunAsync(_server.BaseAddress, BulwarkTestServer.AdminToken, "apply", "-f", path);
        using var admin = _server.CreateAdminClient();
        await admin.PutAsync("v1/identities/carol", BulwarkTestServer.Json("""{"roles":["responder","approver"]}"""), TestContext.Current.CancellationToken);

        var (exit, diff, _) = await CliRunner.RunAsync(_server.BaseAddress, BulwarkTestServer.AdminToken, "diff", "-f", path);

        exit.ShouldBe(1);
        diff.ShouldContain("-     \"approver\"");
    }

    [Fact]
    public async Task Flags_ApplyThenDiff_IgnoresTheReadOnlyStatus()
    {
        var path = Write("flags.yaml", "kind: Flag\nkey: bulk-email\ntype: kill-switch\nowner: growth\npurpose: Stops every bulk email\ncohorts:\n  - name: staff\n    allow: [u-1]\n");

        var (applyExit, applied, err) = await CliRunner.RunAsync(_server.BaseAddress, BulwarkTestServer.AdminToken, "apply", "-f", path);
        applyExit.ShouldBe(0, err);
        applied.ShouldContain("Flag/bulk-email created");

        var (diffExit, diff, _) = await CliRunner.RunAsync(_server.BaseAddress, BulwarkTestServer.AdminToken, "diff", "-f", path);
        diffExit.ShouldBe(0, diff);
        diff.ShouldContain("no differences");
        (await _server.Store.GetFlagAsync("bulk-email", TestContext.Current.CancellationToken))!.Definition.EffectiveFailMode.ShouldBe(Bulwark.Flags.FailMode.Closed);
    }

    [Fact]
    public async Task Apply_WithoutAdminRole_FailsWith403Message()
    {
        var token = await _server.CreateIdentityTokenAsync("ops", Bulwark.Identity.Role.Operator);
        var path = Write("one.yaml", "kind: Identity\nname: dan\nroles: [viewer]\n");

        var (exit, _, err) = await CliRunner.RunAsync(_server.BaseAddress, token, "apply", "-f", path);

        exit.ShouldBe(1);
        err.ShouldContain("403");
        (await _server.Store.GetIdentityAsync("dan", TestContext.Current.CancellationToken)).ShouldBeNull();
    }

    [Fact]
    public async Task Apply_InvalidSet_AppliesNothing()
    {
        var path = Write("mixed.yaml", "kind: Identity\nname: good\nroles: [viewer]\n---\nkind: Identity\nname: Bad!\nroles: [viewer]\n");

        var (exit, _, err) = await CliRunner.RunAsync(_server.BaseAddress, BulwarkTestServer.AdminToken, "apply", "-f", path);

        exit.ShouldBe(1);
        err.ShouldContain(":6: /name:");
        (await _server.Store.GetIdentityAsync("good", TestContext.Current.CancellationToken)).ShouldBeNull();
    }

    private string Write(string name, string text)
    {
        var path = _files.Combine(name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string Regex(string text) => System.Text.RegularExpressions.Regex.Escape(text);

    internal static string ExamplesDirectory()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "examples", "manifests");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("examples/manifests not found above the test output");
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.TestUtils;

namespace Bulwark.Cli.Tests;

/// <summary>The real executable: first start, restart, graceful stop, and a hard kill in the middle of audited writes.</summary>
public sealed class ServeProcessTests : IDisposable
{
    private const string Token = "bwk_process-test-token-0123456789";
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task FirstStart_PrintsTheGeneratedTokenOnceAndWritesItMode0600_RestartKeepsEverything()
    {
        string token;
        await using (var first = await ServerProcess.StartAsync(_directory.Path))
        {
            var file = Path.Combine(_directory.Path, "admin-token");
            token = (await File.ReadAllTextAsync(file, TestContext.Current.CancellationToken)).Trim();
            token.ShouldStartWith("bwk_");
            if (!OperatingSystem.IsWindows())
            {
                File.GetUnixFileMode(file).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            first.Output.ShouldContain(token);
            using var admin = first.CreateClient(token);
            (await admin.PutAsync("v1/identities/keeper", BulwarkTestServer.Json("""{"roles":["viewer"]}"""), TestContext.Current.CancellationToken)).StatusCode.ShouldBe(HttpStatusCode.Created);
            (await first.TerminateAsync()).ShouldBe(0);
        }

        await using var second = await ServerProcess.StartAsync(_directory.Path);
        second.Output.ShouldNotContain(token);
        using var again = second.CreateClient(token);
        (await again.GetAsync("v1/identities/keeper", TestContext.Current.CancellationToken)).StatusCode.ShouldBe(HttpStatusCode.OK);
        var verify = JsonNode.Parse(await again.GetStringAsync("v1/audit/verify", TestContext.Current.CancellationToken))!;
        verify["ok"]!.GetValue<bool>().ShouldBeTrue();
        verify["entries"]!.GetValue<long>().ShouldBe(3);
    }

    /// <summary>
    /// SIGTERM while a request is in flight (its body only half sent): the server finishes that request, commits its
    /// write, answers it, and only then exits with code 0. The body is held for 3 s of real time once shutdown has
    /// visibly begun: the drain window of a separate process is wall-clock behaviour that no fake clock reaches, and
    /// 3 s is past the 2 s after which System.CommandLine would otherwise end the process.
    /// </summary>
    [Fact]
    public async Task Sigterm_WithARequestInFlight_AnswersItThenExitsCleanly()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await ServerProcess.StartAsync(_directory.Path, bootstrapToken: Token);
        using var client = server.CreateClient(Token);
        using var observer = server.CreateClient();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var content = new HalfThenRestContent("""{"roles":""", """["viewer"]}""", release.Task);
        var put = client.PutAsync("v1/identities/in-flight", content, ct);

        // The PUT is held by the server once the in-flight gauge counts it beside the /metrics request itself.
        while (!(await observer.GetStringAsync("metrics", ct)).Contains("bulwark_http_requests_in_flight 2", StringComparison.Ordinal))
        {
            put.IsCompleted.ShouldBeFalse();
        }

        var exited = server.TerminateAsync();
        while (await AcceptsConnectionsAsync(server.BaseAddress))
        {
            exited.IsCompleted.ShouldBeFalse();
        }

        await Task.Delay(TimeSpan.FromSeconds(3), ct);
        server.HasExited.ShouldBeFalse("the server must wait for the request in flight");
        release.SetResult();

        using var response = await put.WaitAsync(TimeSpan.FromSeconds(30), ct);
        response.StatusCode.ShouldBe(HttpStatusCode.Created);
        (await exited).ShouldBe(0);
        SqliteFile.Query(Path.Combine(_directory.Path, "bulwark.db"), "SELECT name FROM identities WHERE name = 'in-flight'").ShouldHaveSingleItem();
    }

    [Fact]
    public async Task BootstrapTokenFromEnvironment_IsTheAdminTokenAndNoFileIsWritten()
    {
        await using var server = await ServerProcess.StartAsync(_directory.Path, bootstrapToken: Token);

        File.Exists(Path.Combine(_directory.Path, "admin-token")).ShouldBeFalse();
        server.Output.ShouldNotContain(Token);
        using var admin = server.CreateClient(Token);
        var me = JsonNode.Parse(await admin.GetStringAsync("v1/whoami", TestContext.Current.CancellationToken))!;
        me["name"]!.GetValue<string>().ShouldBe("admin");
    }

    [Fact]
    public async Task Demo_AppliesTheExampleManifestsOnceAndSaysWhereToLook()
    {
        await using (var first = await ServerProcess.StartAsync(_directory.Path, ["--demo"], Token))
        {
            first.Output.ShouldContain("manifest Identity/alice: created");
            first.Output.ShouldContain("/metrics");
            (await first.TerminateAsync()).ShouldBe(0);
        }

        await using var second = await ServerProcess.StartAsync(_directory.Path, ["--demo"], Token);
        second.Output.ShouldContain("manifest Identity/alice: unchanged");
        using var admin = second.CreateClient(Token);
        var identities = JsonNode.Parse(await admin.GetStringAsync("v1/identities", TestContext.Current.CancellationToken))!["items"]!.AsArray();
        identities.Select(i => i!["name"]!.GetValue<string>()).ShouldBe(["admin", "alice", "bob", "carol", "dashboard"]);
    }

    [Fact]
    public async Task InvalidManifestsAtStart_ExitNonZeroNamingFileAndLine()
    {
        var manifests = Directory.CreateDirectory(_directory.Combine("manifests")).FullName;
        await File.WriteAllTextAsync(Path.Combine(manifests, "team.yaml"), "kind: Identity\nname: ok-one\nroles: [viewer]\n---\nkind: Identity\nname: bad\nroles: [superuser]\n", TestContext.Current.CancellationToken);

        await using var server = await ServerProcess.StartAsync(_directory.Path, ["--manifests", manifests], Token, waitUntilListening: false);

        (await server.WaitForExitAsync()).ShouldBe(1);
        server.Output.ShouldContain("team.yaml:7: /roles/0: 'superuser' is not a role");
    }

    /// <summary>
    /// 1,000 audited writes from 32 concurrent clients; the server is SIGKILLed once 300 have been acknowledged. After a
    /// restart the chain verifies, every acknowledged write is there, and state and audit agree exactly: no state change
    /// without its entry and no entry without its change.
    /// </summary>
    [Fact]
    public async Task KillMinus9_DuringAuditedWrites_LeavesAVerifiableChainAndNoChangeWithoutItsEntry()
    {
        var acknowledged = new ConcurrentBag<string>();
        await using (var server = await ServerProcess.StartAsync(_directory.Path, bootstrapToken: Token))
        {
            using var client = server.CreateClient(Token);
            var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var next = -1;
            async Task WorkerAsync()
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < 1000)
                {
                    var name = $"user-{i:D4}";
                    try
                    {
                        using var response = await client.PutAsync($"v1/identities/{name}", BulwarkTestServer.Json("""{"roles":["viewer"]}"""), TestContext.Current.CancellationToken);
                        if (response.StatusCode == HttpStatusCode.Created)
                        {
                            acknowledged.Add(name);
                            if (acknowledged.Count == 300)
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

            var workers = Enumerable.Range(0, 32).Select(_ => Task.Run(WorkerAsync)).ToList();
            var stopped = Task.WhenAll(workers);
            var first = await Task.WhenAny(killed.Task, stopped, Task.Delay(TimeSpan.FromSeconds(120), TestContext.Current.CancellationToken));
            first.ShouldBe(killed.Task, $"{acknowledged.Count} writes acknowledged ({(first == stopped ? "the writers stopped" : "still writing after 120 s")}) before the kill; server output:\n{server.Output}");
            await server.KillHardAsync();
            await Task.WhenAll(workers);
        }

        acknowledged.Count.ShouldBeGreaterThanOrEqualTo(300);
        acknowledged.Count.ShouldBeLessThan(1000, "the kill should land while writes are in flight");

        await using var restarted = await ServerProcess.StartAsync(_directory.Path, bootstrapToken: Token);
        using var admin = restarted.CreateClient(Token);
        var verify = JsonNode.Parse(await admin.GetStringAsync("v1/audit/verify", TestContext.Current.CancellationToken))!;
        verify["ok"]!.GetValue<bool>().ShouldBeTrue(verify.ToJsonString());

        var stored = JsonNode.Parse(await admin.GetStringAsync("v1/identities", TestContext.Current.CancellationToken))!["items"]!.AsArray()
            .Select(i => i!["name"]!.GetValue<string>()).Where(n => n.StartsWith("user-", StringComparison.Ordinal)).ToHashSet();
        var audited = new List<string>();
        long after = 0;
        while (true)
        {
            var page = JsonNode.Parse(await admin.GetStringAsync($"v1/audit?after={after}&limit=1000", TestContext.Current.CancellationToken))!;
            var items = page["items"]!.AsArray();
            audited.AddRange(items.Where(e => e!["action"]!.GetValue<string>() == "identity.create").Select(e => e!["target"]!.GetValue<string>()["identity/".Length..]).Where(n => n.StartsWith("user-", StringComparison.Ordinal)));
            if (items.Count < 1000)
            {
                break;
            }

            after = page["next_after"]!.GetValue<long>();
        }

        stored.IsSupersetOf(acknowledged).ShouldBeTrue("every acknowledged write survives");
        audited.Count.ShouldBe(audited.Distinct().Count());
        audited.ToHashSet().SetEquals(stored).ShouldBeTrue("state and audit agree exactly");
    }

    private static async Task<bool> AcceptsConnectionsAsync(Uri address)
    {
        using var socket = new System.Net.Sockets.TcpClient();
        try
        {
            await socket.ConnectAsync(address.Host, address.Port, TestContext.Current.CancellationToken);
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    /// <summary>A chunked JSON body that sends its first part, then waits before sending the rest.</summary>
    private sealed class HalfThenRestContent : HttpContent
    {
        private readonly string _first;
        private readonly string _rest;
        private readonly Task _release;

        public HalfThenRestContent(string first, string rest, Task release)
        {
            (_first, _rest, _release) = (first, rest, release);
            Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(_first));
            await stream.FlushAsync();
            await _release;
            await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(_rest));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }
    }
}

using System.Diagnostics;
using Bulwark.Ingest;
using Bulwark.Server.Ingest;
using Bulwark.TestUtils;

namespace Bulwark.Server.Tests.Ingest;

/// <summary>The server's own resolver of <c>file:</c> references: only a small regular file is read.</summary>
public sealed class SecretResolverTests : IDisposable
{
    private readonly TempDirectory _files = new();
    private readonly EnvironmentSecretResolver _resolver = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void RegularFile_ItsTextWithoutTheTrailingLineBreak()
    {
        var path = Path.Combine(_files.Path, "secret");
        File.WriteAllText(path, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n");

        _resolver.TryResolve(new SecretReference("file", path), out var value, out var reason).ShouldBeTrue(reason);
        value.ShouldBe("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    }

    [Fact]
    public void DeviceThatNeverEnds_IsRefusedWithoutReadingIt()
    {
        _resolver.TryResolve(new SecretReference("file", "/dev/zero"), out var value, out var reason).ShouldBeFalse();
        (value, reason).ShouldBe((null, "file /dev/zero is empty or not a regular file"));
    }

    [Fact]
    public async Task NamedPipe_IsRefusedWithoutWaitingForAWriter()
    {
        var path = Path.Combine(_files.Path, "pipe");
        using (var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", [path]))!)
        {
            await mkfifo.WaitForExitAsync(TestContext.Current.CancellationToken);
            mkfifo.ExitCode.ShouldBe(0);
        }

        // Opening a pipe for reading blocks until a writer opens it: a resolver that opened it would never return (the
        // test gives up on it rather than hang).
        var (resolved, reason) = await Task.Run(() => (_resolver.TryResolve(new SecretReference("file", path), out _, out var why), why))
            .WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        (resolved, reason).ShouldBe((false, $"file {path} is empty or not a regular file"));
    }

    [Fact]
    public void FileOver64KiB_IsRefused()
    {
        var path = Path.Combine(_files.Path, "big");
        File.WriteAllBytes(path, new byte[(64 * 1024) + 1]);

        _resolver.TryResolve(new SecretReference("file", path), out _, out var reason).ShouldBeFalse();
        reason.ShouldBe($"file {path} is larger than 64 KiB");
    }
}

using System.Net;
using System.Text;
using Bulwark.TestUtils;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Server.Tests;

/// <summary>
/// Over HTTP/2 a body needs neither <c>Content-Length</c> nor chunked framing: the server must still see it (its JSON
/// read, its media type checked). The server here speaks HTTP/2 only, with prior knowledge, as a proxy speaking h2c to
/// it would.
/// </summary>
public sealed class Http2BodyTests : IAsyncLifetime
{
    private BulwarkTestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await BulwarkTestServer.StartAsync(
        services: s => s.Configure<KestrelServerOptions>(o => o.ConfigureEndpointDefaults(l => l.Protocols = HttpProtocols.Http2)));

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task ABodyWithoutContentLength_IsRead()
    {
        using var admin = Client();
        using var request = Request(HttpMethod.Put, "/v1/identities/over-h2", """{"roles":["viewer"]}""", "application/json");
        using var response = await admin.SendAsync(request, TestContext.Current.CancellationToken);

        response.Version.ShouldBe(HttpVersion.Version20);
        request.Content!.Headers.ContentLength.ShouldBeNull();
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        response.IsSuccessStatusCode.ShouldBeTrue(text);
        using var read = await admin.GetAsync("/v1/identities/over-h2", TestContext.Current.CancellationToken);
        (await Http.ReadJsonAsync(read))["roles"]!.AsArray().Select(r => r!.GetValue<string>()).ShouldBe(["viewer"]);
    }

    [Fact]
    public async Task ANonJsonBodyWithoutContentLength_Is415()
    {
        using var admin = Client();
        using var request = Request(HttpMethod.Put, "/v1/identities/over-h2-text", "roles=viewer", "text/plain");
        using var response = await admin.SendAsync(request, TestContext.Current.CancellationToken);

        await Http.ReadProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
    }

    [Fact]
    public async Task ACompressedBodyWithoutContentLength_Is415()
    {
        using var admin = Client();
        using var request = Request(HttpMethod.Put, "/v1/identities/over-h2-gzip", """{"roles":["viewer"]}""", "application/json");
        request.Content!.Headers.ContentEncoding.Add("gzip");
        using var response = await admin.SendAsync(request, TestContext.Current.CancellationToken);

        await Http.ReadProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
    }

    [Fact]
    public async Task NoBody_IsStillNoBody()
    {
        using var admin = Client();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/identities") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var response = await admin.SendAsync(request, TestContext.Current.CancellationToken);

        response.Version.ShouldBe(HttpVersion.Version20);
        var problem = await Http.ReadProblemAsync(response, HttpStatusCode.BadRequest, "malformed-request");
        problem["detail"]!.GetValue<string>().ShouldContain("body is required");
    }

    private HttpClient Client()
    {
        var client = _server.CreateAdminClient();
        client.DefaultRequestVersion = HttpVersion.Version20;
        client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        return client;
    }

    /// <summary>A request whose body is a stream of unknown length: sent in DATA frames, with no Content-Length.</summary>
    private static HttpRequestMessage Request(HttpMethod method, string path, string body, string mediaType)
    {
        var content = new StreamContent(new NonSeekableStream(Encoding.UTF8.GetBytes(body)));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(mediaType);
        return new HttpRequestMessage(method, path) { Content = content, Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
    }

    /// <summary>A stream that does not tell its length, so that HttpClient cannot compute a Content-Length.</summary>
    private sealed class NonSeekableStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }
    }
}

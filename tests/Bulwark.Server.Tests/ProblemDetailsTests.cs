using System.Net;
using System.Text;
using Bulwark.TestUtils;

namespace Bulwark.Server.Tests;

/// <summary>Every error path answers RFC 9457 problem+json with a stable type, the status, and the correlation id.</summary>
public sealed class ProblemDetailsTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private HttpClient Admin() => fixture.Server.CreateAdminClient();

    [Fact]
    public async Task MalformedJson_Is400()
    {
        using var admin = Admin();
        using var response = await admin.PostAsync("/v1/identities", BulwarkTestServer.Json("{\"name\": \"x\", "), TestContext.Current.CancellationToken);

        var problem = await Http.ReadProblemAsync(response, HttpStatusCode.BadRequest, "malformed-request");
        problem["detail"]!.GetValue<string>().ShouldContain("not valid JSON");
    }

    [Theory]
    [InlineData("[1,2]")]
    [InlineData("\"text\"")]
    [InlineData("null")]
    public async Task NonObjectJson_Is400(string body)
    {
        using var admin = Admin();
        using var response = await admin.PostAsync("/v1/identities", BulwarkTestServer.Json(body), TestContext.Current.CancellationToken);

        await Http.ReadProblemAsync(response, HttpStatusCode.BadRequest, "malformed-request");
    }

    [Fact]
    public async Task DuplicateJsonProperty_Is400()
    {
        using var admin = Admin();
        using var response = await admin.PostAsync("/v1/identities", BulwarkTestServer.Json("""{"name":"a","name":"b","roles":["viewer"]}"""), TestContext.Current.CancellationToken);

        await Http.ReadProblemAsync(response, HttpStatusCode.BadRequest, "malformed-request");
    }

    [Fact]
    public async Task DeeplyNestedJson_Is400AndServerKeepsServing()
    {
        using var admin = Admin();
        var deep = new string('[', 5000) + new string(']', 5000);
        using var response = await admin.PostAsync("/v1/identities", BulwarkTestServer.Json("{\"x\":" + deep + "}"), TestContext.Current.CancellationToken);

        await Http.ReadProblemAsync(response, HttpStatusCode.BadRequest, "malformed-request");
        (await admin.GetAsync("/healthz", TestContext.Current.CancellationToken)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task MissingBody_Is400()
    {
        using var admin = Admin();
        using var response = await admin.PostAsync("/v1/identities", null, TestContext.Current.CancellationToken);

        await Http.ReadProblemAsync(response, HttpStatusCode.BadRequest, "malformed-request");
    }

    [Fact]
    public async Task BadQueryParameter_Is400()
    {
        using var admin = Admin();
        using var response = await admin.GetAsync("/v1/audit?after=yesterday", TestContext.Current.CancellationToken);

        await Http.ReadProblemAsync(response, HttpStatusCode.BadRequest, "malformed-request");
    }

    [Fact]
    public async Task OutOfRangeQueryParameters_Are422WithEveryError()
    {
        using var admin = Admin();
        using var response = await admin.GetAsync("/v1/audit?after=-1&limit=5000", TestContext.Current.CancellationToken);

        var problem = await Http.ReadProblemAsync(response, HttpStatusCode.UnprocessableEntity, "validation");
        problem["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).ShouldBe(["/after", "/limit"]);
    }

    [Fact]
    public async Task InvalidDocument_Is422ListingEveryProblemWithItsPath()
    {
        using var admin = Admin();
        using var response = await admin.PostAsync(
            "/v1/identities",
            BulwarkTestServer.Json("""{"name":"Not Valid","roles":["viewer","root","viewer"],"description":5,"colour":"red"}"""),
            TestContext.Current.CancellationToken);

        var problem = await Http.ReadProblemAsync(response, HttpStatusCode.UnprocessableEntity, "validation");
        var errors = problem["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).ToList();
        errors.ShouldBe(["/name", "/description", "/roles/1", "/roles/2", "/colour"], ignoreOrder: true);
    }

    [Fact]
    public async Task UnknownRoute_Is404()
    {
        using var admin = Admin();
        using var response = await admin.GetAsync("/v1/no-such-thing", TestContext.Current.CancellationToken);

        await Http.ReadProblemAsync(response, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task UnknownObject_Is404()
    {
        using var admin = Admin();
        using var response = await admin.GetAsync("/v1/identities/ghost", TestContext.Current.CancellationToken);

        var problem = await Http.ReadProblemAsync(response, HttpStatusCode.NotFound, "not-found");
        problem["instance"]!.GetValue<string>().ShouldBe("/v1/identities/ghost");
    }

    [Fact]
    public async Task WrongMethod_Is405()
    {
        using var client = fixture.Server.CreateClient();
        using var response = await client.DeleteAsync("/healthz", TestContext.Current.CancellationToken);

        await Http.ReadProblemAsync(response, HttpStatusCode.MethodNotAllowed, "method-not-allowed");
    }

    [Fact]
    public async Task CreatingAnExistingIdentity_Is409()
    {
        using var admin = Admin();
        using var response = await admin.PostAsync("/v1/identities", BulwarkTestServer.Json("""{"name":"as-viewer","roles":["viewer"]}"""), TestContext.Current.CancellationToken);

        await Http.ReadProblemAsync(response, HttpStatusCode.Conflict, "conflict");
    }

    [Fact]
    public async Task OversizedBodyByContentLength_Is413BeforeReading()
    {
        using var admin = Admin();
        var body = "{\"description\":\"" + new string('a', 1024 * 1024) + "\"}";
        using var response = await admin.PutAsync("/v1/identities/big", BulwarkTestServer.Json(body), TestContext.Current.CancellationToken);

        await Http.ReadProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
    }

    [Fact]
    public async Task OversizedChunkedBody_Is413()
    {
        using var admin = Admin();
        var bytes = Encoding.UTF8.GetBytes("{\"description\":\"" + new string('a', 2 * 1024 * 1024) + "\"}");
        using var content = new StreamContent(new MemoryStream(bytes));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Put, "/v1/identities/big") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using var response = await admin.SendAsync(request, TestContext.Current.CancellationToken);

        await Http.ReadProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        (await admin.GetAsync("/v1/identities/big", TestContext.Current.CancellationToken)).StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData(null)]
    public async Task NonJsonBody_Is415(string? contentType)
    {
        using var admin = Admin();
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes("name=x"));
        if (contentType is not null)
        {
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        }

        using var response = await admin.PostAsync("/v1/identities", content, TestContext.Current.CancellationToken);

        await Http.ReadProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
    }

    [Fact]
    public async Task JsonWithCharsetOrVendorSuffix_IsAccepted()
    {
        using var admin = Admin();
        using var content = new StringContent("""{"roles":["viewer"]}""", Encoding.UTF8);
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse("application/merge-patch+json; charset=utf-8");
        using var response = await admin.PutAsync("/v1/identities/vendor-json", content, TestContext.Current.CancellationToken);

        response.StatusCode.ShouldBe(HttpStatusCode.Created);
    }

    [Fact]
    public async Task InvalidUtf8Body_Is400AndNothingIsStored()
    {
        using var admin = Admin();
        var bytes = "{\"name\":\"utf\",\"roles\":[\"viewer\"],\"description\":\""u8.ToArray()
            .Concat(new byte[] { 0xC3, 0x28, 0xFF })
            .Concat("\"}"u8.ToArray()).ToArray();
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var response = await admin.PostAsync("/v1/identities", content, TestContext.Current.CancellationToken);

        await Http.ReadProblemAsync(response, HttpStatusCode.BadRequest, "malformed-request");
        (await fixture.Server.Store.GetIdentityAsync("utf", TestContext.Current.CancellationToken)).ShouldBeNull();
    }

    [Theory]
    [InlineData("""{"name":5,"roles":"viewer"}""", new[] { "/name", "/roles" })]
    [InlineData("""{"name":"x","roles":[1,null,{"a":1}]}""", new[] { "/roles/0", "/roles/1", "/roles/2" })]
    [InlineData("""{"name":"x","roles":[]}""", new[] { "/roles" })]
    [InlineData("""{}""", new[] { "/name", "/roles" })]
    public async Task WrongTypes_Are422NamingEachPath(string body, string[] paths)
    {
        using var admin = Admin();
        using var response = await admin.PostAsync("/v1/identities", BulwarkTestServer.Json(body), TestContext.Current.CancellationToken);

        var problem = await Http.ReadProblemAsync(response, HttpStatusCode.UnprocessableEntity, "validation");
        problem["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).ShouldBe(paths, ignoreOrder: true);
    }
}

using System.Text.Json.Nodes;
using Bulwark.Ingest;
using Bulwark.Json;

namespace Bulwark.Core.Tests.Ingest.Sources;

public sealed class SourceKindTests
{
    private static Bulwark.Manifests.ManifestResult<SourceDefinition> Read(string json) => SourceKind.Instance.Read(JsonNode.Parse(json)!.AsObject());

    [Fact]
    public void Read_MinimalSource_TakesTheDefaults()
    {
        var source = Read("""{"name":"okta-main","scheme":"okta","secrets":["env:OKTA_HOOK_KEY"]}""").Value!;

        source.Normalizer.ShouldBe("okta");
        (source.TimestampTolerance, source.DedupeRetention, source.MaxBody).ShouldBe((TimeSpan.FromSeconds(300), TimeSpan.FromHours(72), 1 << 20));
        source.Secrets.ShouldBe([new SecretReference("env", "OKTA_HOOK_KEY")]);
        (source.Platform, source.Throttle, source.VerifyToken, source.Poll).ShouldBe((null, null, null, null));
        Read("""{"name":"partner","scheme":"standard-webhooks","secrets":["env:A"]}""").Value!.Normalizer.ShouldBe("event-v1");
    }

    [Fact]
    public void Read_FullSource_RoundTripsThroughItsDocument()
    {
        const string json = """
            {"name":"meta-main","description":"Instagram account notifications","scheme":"meta","secrets":["env:META_NEW","file:/run/secrets/meta-old"],
             "normalizer":"meta","platform":"instagram","timestamp_tolerance":"2m","dedupe_retention":"36h","max_body":"256KiB",
             "throttle":"webhook-ingest","verify_token":"env:META_VERIFY",
             "poll":{"url":"https://graph.example.com/logs","interval":"5m","auth_header":"X-Api-Key","auth":"file:/run/secrets/meta-api","since_parameter":"from","lookback":"2h","overlap":"5m"}}
            """;
        var source = Read(json).Value!;

        (source.MaxBody, source.TimestampTolerance, source.Poll!.Interval, source.Poll.SinceParameter).ShouldBe((256 * 1024, TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(5), "from"));
        (source.Poll.Lookback, source.Poll.Overlap).ShouldBe((TimeSpan.FromHours(2), TimeSpan.FromMinutes(5)));
        var document = SourceKind.Instance.ToDocument(source);
        CanonicalJson.Serialize(SourceKind.Instance.ToDocument(SourceKind.Instance.Read(document).Value!)).ShouldBe(CanonicalJson.Serialize(document));
        document["secrets"]!.AsArray().Select(s => s!.GetValue<string>()).ShouldBe(["env:META_NEW", "file:/run/secrets/meta-old"]);
    }

    [Fact]
    public void Read_Mapping_IsValidatedWithTheMappingNormalizer()
    {
        var ok = Read("""{"name":"crm","scheme":"bearer","secrets":["env:CRM"],"normalizer":"mapping","mapping":{"id":"/uuid","timestamp":"/at","account_id":"/user","event_type":"password_reset","platform":"crm"}}""");
        var missing = Read("""{"name":"crm","scheme":"bearer","secrets":["env:CRM"],"normalizer":"mapping"}""");
        var stray = Read("""{"name":"crm","scheme":"bearer","secrets":["env:CRM"],"mapping":{"id":"/uuid"}}""");

        ok.IsValid.ShouldBeTrue(string.Join("; ", ok.Errors));
        missing.Errors.ShouldContain(e => e.Path == "/mapping" && e.Message.Contains("required", StringComparison.Ordinal));
        stray.Errors.ShouldContain(e => e.Path == "/mapping" && e.Message.Contains("normalizer: mapping", StringComparison.Ordinal));
    }

    [Fact]
    public void Read_MappingErrors_PointIntoTheMapping()
    {
        var bad = Read("""{"name":"crm","scheme":"bearer","secrets":["env:CRM"],"normalizer":"mapping","mapping":{"id":"uuid","timestamp":"/at","account_id":"/user","event_type":"password_reset","details":{"note":"/a/~2"}}}""");

        bad.Errors.Select(e => e.Path).ShouldBe(["/mapping/id", "/mapping/details/note"], ignoreOrder: true);
        bad.Errors.ShouldAllBe(e => e.Message.Contains("is not a JSON Pointer", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Authorization", true)]
    [InlineData("X-Api-Key", true)]
    [InlineData("Api Key", false)]
    [InlineData("Authorization:", false)]
    [InlineData("content-type", false)]
    [InlineData("Content-Encoding", false)]
    [InlineData("Host", false)]
    [InlineData("Expires", false)]
    public void AuthHeaderProblem_OnlyAHeaderNameThePollerDoesNotSetItself(string header, bool ok)
    {
        // Read leniently (a source stored before the rule still loads); the rule is checked when a source is put.
        var source = Read($$$"""{"name":"s","scheme":"okta","secrets":["env:A"],"poll":{"url":"https://example.com/logs","auth_header":"{{{header}}}"}}""");

        source.IsValid.ShouldBeTrue();
        (SourceKind.AuthHeaderProblem(source.Value!.Poll!) is null).ShouldBe(ok);
    }

    [Theory]
    [InlineData("""{"name":"s","scheme":"carrier-pigeon","secrets":["env:A"]}""", "/scheme")]
    [InlineData("""{"name":"s","scheme":"github"}""", "/secrets")]
    [InlineData("""{"name":"s","scheme":"github","secrets":[]}""", "/secrets")]
    [InlineData("""{"name":"s","scheme":"github","secrets":["It's a Secret to Everybody"]}""", "/secrets/0")]
    [InlineData("""{"name":"s","scheme":"github","secrets":["env:A","file:relative/path"]}""", "/secrets/1")]
    [InlineData("""{"name":"s","scheme":"github","secrets":["env:1BAD"]}""", "/secrets/0")]
    [InlineData("""{"name":"s","scheme":"github","secrets":["env:A"],"normalizer":"xml"}""", "/normalizer")]
    [InlineData("""{"name":"s","scheme":"github","secrets":["env:A"],"max_body":100}""", "/max_body")]
    [InlineData("""{"name":"s","scheme":"github","secrets":["env:A"],"max_body":"20MiB"}""", "/max_body")]
    [InlineData("""{"name":"s","scheme":"github","secrets":["env:A"],"max_body":"1GB"}""", "/max_body")]
    [InlineData("""{"name":"s","scheme":"github","secrets":["env:A"],"timestamp_tolerance":"0s"}""", "/timestamp_tolerance")]
    [InlineData("""{"name":"s","scheme":"github","secrets":["env:A"],"verify_token":"env:V"}""", "/verify_token")]
    [InlineData("""{"name":"s","scheme":"meta","secrets":["env:A"],"verify_token":"meatyhamhock"}""", "/verify_token")]
    [InlineData("""{"name":"s","scheme":"okta","secrets":["env:A"],"poll":{"url":"ftp://example.com/logs"}}""", "/poll/url")]
    [InlineData("""{"name":"s","scheme":"okta","secrets":["env:A"],"poll":{"url":"https://example.com/logs","every":"1m"}}""", "/poll/every")]
    [InlineData("""{"name":"s","scheme":"okta","secrets":["env:A"],"poll":{"url":"https://example.com/logs","overlap":"2d"}}""", "/poll/overlap")]
    [InlineData("""{"name":"s","scheme":"okta","secrets":["env:A"],"poll":{"url":"https://example.com/logs","lookback":"100d"}}""", "/poll/lookback")]
    [InlineData("""{"name":"s","scheme":"okta","secrets":["env:A"],"colour":"red"}""", "/colour")]
    public void Read_InvalidSource_ReportsTheField(string json, string path)
    {
        var result = Read(json);

        result.IsValid.ShouldBeFalse();
        result.Errors.ShouldContain(e => e.Path == path, string.Join("; ", result.Errors));
    }

    [Fact]
    public void Read_ASecretValueInsteadOfAReference_NeverEchoesIt()
    {
        var result = Read("""{"name":"s","scheme":"github","secrets":["It's a Secret to Everybody"],"verify_token":"hunter2hunter2"}""");

        string.Join("; ", result.Errors).ShouldNotContain("Everybody");
        string.Join("; ", result.Errors).ShouldNotContain("hunter2");
    }

    [Fact]
    public void SchemeAndNormalizerNames_AreTheRegistries()
    {
        SourceKind.SchemeNames.ShouldBe(WebhookSchemes.All.Select(s => s.Name));
        SourceKind.NormalizerNames.ShouldBe(Bulwark.Ingest.Normalizers.All.Select(n => n.Name), ignoreOrder: true);
        foreach (var scheme in SourceKind.SchemeNames)
        {
            Bulwark.Ingest.Normalizers.Find(SourceKind.DefaultNormalizer(scheme)).ShouldNotBeNull();
        }
    }

    [Theory]
    [InlineData("env:OKTA_HOOK_KEY", "env", "OKTA_HOOK_KEY")]
    [InlineData("file:/run/secrets/okta", "file", "/run/secrets/okta")]
    public void SecretReference_ParsesAndPrintsAsWritten(string text, string scheme, string target)
    {
        SecretReference.TryParse(text, out var reference, out _).ShouldBeTrue();
        (reference!.Scheme, reference.Target, reference.ToString()).ShouldBe((scheme, target, text));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("env:")]
    [InlineData("env:A B")]
    [InlineData("file:")]
    [InlineData("file:/")]
    [InlineData("vault:kv/okta")]
    [InlineData("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    public void SecretReference_RefusesAnythingElse(string? text) => SecretReference.TryParse(text, out _, out _).ShouldBeFalse();
}

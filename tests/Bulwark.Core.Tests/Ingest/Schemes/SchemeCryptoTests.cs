using System.Text;
using Bulwark.Ingest;
using static Bulwark.Core.Tests.Ingest.Schemes.SchemeTesting;

namespace Bulwark.Core.Tests.Ingest.Schemes;

public sealed class SchemeCryptoTests
{
    private static readonly byte[] Content = Encoding.UTF8.GetBytes("{\"id\":\"evt_1\"}");

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void FindSecret_AMatchAnywhere_TriesEverySecretAndNamesTheFirstThatMatched(int signer)
    {
        string[] secrets = ["newest", "older", "oldest"];
        var tried = new List<string>();
        byte[]? Derive(string secret)
        {
            tried.Add(secret);
            return Encoding.UTF8.GetBytes(secret);
        }

        var index = SchemeCrypto.FindSecret(secrets, Derive, Content, [new byte[32], Hmac(Encoding.UTF8.GetBytes(secrets[signer]), Content)]);

        index.ShouldBe(signer);
        tried.ShouldBe(secrets);
    }

    [Fact]
    public void FindSecret_TheSameSecretTwice_NamesTheFirst_AndUnusableOnesAreSkipped()
    {
        var tried = new List<string>();
        byte[]? Derive(string secret)
        {
            tried.Add(secret);
            return secret.Length == 0 ? null : Encoding.UTF8.GetBytes(secret);
        }

        var mac = Hmac(Encoding.UTF8.GetBytes("shared"), Content);

        SchemeCrypto.FindSecret(["", "shared", "shared"], Derive, Content, [mac]).ShouldBe(1);
        SchemeCrypto.FindSecret(["other"], Derive, Content, [mac]).ShouldBe(-1);
        SchemeCrypto.FindSecret(["shared"], Derive, Content, []).ShouldBe(-1);
        tried.ShouldBe(["", "shared", "shared", "other"]);
    }
}

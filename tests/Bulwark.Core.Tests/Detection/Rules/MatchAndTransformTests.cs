using Bulwark.Detection.Rules;
using static Bulwark.Core.Tests.Detection.Rules.RuleTestKit;

namespace Bulwark.Core.Tests.Detection.Rules;

public sealed class MatchAndTransformTests
{
    private static readonly Bulwark.Ingest.NormalizedEvent Sample =
        Event("e1", 0, "login_failed", "acct_000042", "10.1.2.3", "x", "DE", """{"score":7.5,"identifier":"J.Smith+promo@GoogleMail.com","new_device":true}""");

    [Theory]
    [InlineData("""{"field":"event_type","equals":"login_failed"}""", true)]
    [InlineData("""{"field":"event_type","equals":"login_succeeded"}""", false)]
    [InlineData("""{"field":"platform","in":["instagram","x"]}""", true)]
    [InlineData("""{"field":"platform","in":["instagram","linkedin"]}""", false)]
    [InlineData("""{"field":"account_id","prefix":"acct_"}""", true)]
    [InlineData("""{"field":"account_id","prefix":"user_"}""", false)]
    [InlineData("""{"field":"account_id","regex":"^acct_0+42$"}""", true)]
    [InlineData("""{"field":"account_id","regex":"^acct_1"}""", false)]
    [InlineData("""{"field":"actor.ip","cidr":["10.0.0.0/8"]}""", true)]
    [InlineData("""{"field":"actor.ip","cidr":"192.168.0.0/16"}""", false)]
    [InlineData("""{"field":"details.new_device","exists":true}""", true)]
    [InlineData("""{"field":"details.missing","exists":true}""", false)]
    [InlineData("""{"field":"details.missing","exists":false}""", true)]
    [InlineData("""{"field":"details.new_device","equals":true}""", true)]
    [InlineData("""{"field":"details.score","gt":7}""", true)]
    [InlineData("""{"field":"details.score","gt":7.5}""", false)]
    [InlineData("""{"field":"details.score","gte":7.5}""", true)]
    [InlineData("""{"field":"details.score","lt":7.5}""", false)]
    [InlineData("""{"field":"details.score","lte":7.5}""", true)]
    [InlineData("""{"field":"platform","gt":1}""", false)]
    [InlineData("""{"all":[{"field":"platform","equals":"x"},{"field":"actor.country","equals":"DE"}]}""", true)]
    [InlineData("""{"all":[{"field":"platform","equals":"x"},{"field":"actor.country","equals":"FR"}]}""", false)]
    [InlineData("""{"any":[{"field":"platform","equals":"instagram"},{"field":"actor.country","equals":"DE"}]}""", true)]
    [InlineData("""{"any":[{"field":"platform","equals":"instagram"},{"field":"actor.country","equals":"FR"}]}""", false)]
    [InlineData("""{"not":{"field":"platform","equals":"x"}}""", false)]
    [InlineData("""{"not":{"field":"platform","equals":"instagram"}}""", true)]
    [InlineData("""{"field":"details.identifier","transform":"mailbox_base","equals":"jsmith@gmail.com"}""", true)]
    [InlineData("""{"field":"actor.ip","transform":"ip_prefix","equals":"10.1.2.0/24"}""", true)]
    public void Match_Operator_DecidesAsDocumented(string match, bool expected)
    {
        var rule = Rule($$"""{"name":"m","type":"count","severity":"low","window":"1m","threshold":1,"match":{{match}}}""");

        CompiledMatch.Compile(rule.Match)(Sample).ShouldBe(expected);
    }

    [Theory]
    [InlineData("jsmith+1@example.org", "jsmith@example.org")]
    [InlineData("J.Smith+tag@Example.org", "j.smith@example.org")]
    [InlineData("j.s.mith+x@gmail.com", "jsmith@gmail.com")]
    [InlineData("jsmith@googlemail.com", "jsmith@gmail.com")]
    [InlineData("not-an-address", "not-an-address")]
    public void MailboxBase_Address_StripsTagAndProviderDots(string address, string expected) =>
        EventFields.MailboxBase(address).ShouldBe(expected);

    [Theory]
    [InlineData("acct_000123", 123L)]
    [InlineData("enum_0000", 0L)]
    [InlineData("42", 42L)]
    [InlineData("acct_", null)]
    [InlineData("1234567890123456789", null)]
    public void NumericSuffix_Value_ReadsTrailingDigits(string value, long? expected) =>
        EventFields.NumericSuffix(value).ShouldBe(expected);

    [Theory]
    [InlineData("203.0.113.77", null, "203.0.113.0/24")]
    [InlineData("203.0.113.77", 16, "203.0.0.0/16")]
    [InlineData("2001:db8:1:2:3:4:5:6", null, "2001:db8:1:2::/64")]
    [InlineData("::ffff:198.51.100.9", null, "198.51.100.0/24")]
    [InlineData("not-an-ip", null, null)]
    public void IpPrefix_Address_GivesNetwork(string ip, int? bits, string? expected) =>
        EventFields.IpPrefix(ip, bits).ShouldBe(expected);
}

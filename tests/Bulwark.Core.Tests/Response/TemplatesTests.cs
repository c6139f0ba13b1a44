using System.Text.Json.Nodes;
using Bulwark.Manifests;
using Bulwark.Response;

namespace Bulwark.Core.Tests.Response;

public sealed class TemplatesTests
{
    private static JsonObject Context(string? target = "acct_2") => ResponseContext.Create(
        RunPlannerTests.Incident(0.875) with { Accounts = ["acct_1", "acct_2"], Ips = ["203.0.113.7"] },
        "run_9",
        "contain",
        "corr-1",
        target,
        "instagram",
        new Dictionary<string, JsonObject> { ["ticket"] = new() { ["key"] = "SEC-24", ["ids"] = new JsonArray(1, 2) } });

    [Fact]
    public void Render_TextWithPlaceholders_JoinsArraysAndWritesNumbers()
    {
        var template = Templates.Compile("Incident {{ incident.id }} on {{platform}}: {{incident.accounts}} ({{incident.confidence}}, {{steps.ticket.output.ids}})");

        template.RenderText(Context()).ShouldBe("Incident inc_1 on instagram: acct_1, acct_2 (0.875, 1, 2)");
        template.Paths.ShouldBe(["incident.id", "platform", "incident.accounts", "incident.confidence", "steps.ticket.output.ids"]);
        template.IsSinglePlaceholder.ShouldBeFalse();
    }

    [Fact]
    public void Render_ASinglePlaceholder_KeepsTheJsonType()
    {
        var context = Context();

        Templates.Compile("{{incident.accounts}}").Render(context).ShouldBeOfType<JsonArray>().Select(a => a!.GetValue<string>()).ShouldBe(["acct_1", "acct_2"]);
        Templates.Compile("{{ incident.confidence }}").Render(context)!.GetValue<double>().ShouldBe(0.875);
        Templates.Compile("{{incident.accounts.1}}").Render(context)!.GetValue<string>().ShouldBe("acct_2");
        Templates.Compile(" {{incident.confidence}}").Render(context)!.GetValue<string>().ShouldBe(" 0.875");
    }

    [Fact]
    public void Render_APathThatDoesNotResolve_IsEmpty()
    {
        var context = Context(target: null);

        Templates.Compile("[{{target}}]").RenderText(context).ShouldBe("[]");
        Templates.Compile("{{steps.ticket.output.missing}}").Render(context)!.GetValue<string>().ShouldBe(string.Empty);
        Templates.Compile("{{incident.accounts.7}}").Render(context)!.GetValue<string>().ShouldBe(string.Empty);
    }

    [Fact]
    public void Render_TextWithoutPlaceholders_IsUnchanged_AndCompiledOnceRendersManyContexts()
    {
        var plain = Templates.Compile("no placeholders } here");
        var target = Templates.Compile("acct={{target}}");

        plain.RenderText(Context()).ShouldBe("no placeholders } here");
        target.RenderText(Context("acct_1")).ShouldBe("acct=acct_1");
        target.RenderText(Context("acct_2")).ShouldBe("acct=acct_2");
    }

    [Fact]
    public void RenderObject_RendersEveryStringInNestedObjectsAndArrays_AndCopiesOtherValues()
    {
        var template = Templates.Compile(JsonNode.Parse("""
            {"summary":"ATO {{incident.id}}","accounts":"{{incident.accounts}}","nested":{"list":["{{target}}", 3, true, null]},"n":1.5,"run":"{{run.id}}/{{run.playbook}}","corr":"{{correlation_id}}"}
            """)!.AsObject());

        var rendered = template.Render(Context());

        rendered.ToJsonString().ShouldBe("""{"summary":"ATO inc_1","accounts":["acct_1","acct_2"],"nested":{"list":["acct_2",3,true,null]},"n":1.5,"run":"run_9/contain","corr":"corr-1"}""");
    }

    [Theory]
    [InlineData("a {{incident.id", "at 3: '{{' is not closed")]
    [InlineData("{{ }}", "at 1: empty placeholder")]
    [InlineData("x{{incident id}}", "at 2: 'incident id' is not a path")]
    [InlineData("{{incident.owner}}", "is not an incident field")]
    [InlineData("{{incident}}", "is not an incident field")]
    [InlineData("{{incident.accounts.first}}", "is not an incident field")]
    [InlineData("{{run.started}}", "is not a run field")]
    [InlineData("{{target.id}}", "target is a single value")]
    [InlineData("{{steps.ticket.key}}", "steps.<id>.output.<field>")]
    [InlineData("{{env.HOME}}", "starts with an unknown name")]
    [InlineData("{{a..b}}", "is not a path")]
    public void TryCompile_Invalid_SaysWhereAndWhy(string text, string message)
    {
        Templates.TryCompile(text, out _, out var error).ShouldBeFalse();

        error.ShouldNotBeNull().ShouldContain(message);
        Should.Throw<FormatException>(() => Templates.Compile(text));
    }

    [Fact]
    public void TryCompile_StepOutputs_AreCheckedAgainstTheVisibleSteps()
    {
        var visible = new HashSet<string> { "ticket" };

        Templates.TryCompile("{{steps.ticket.output.key}}", out _, out _, visible).ShouldBeTrue();
        Templates.TryCompile("{{steps.page.output.key}}", out _, out var error, visible).ShouldBeFalse();
        error.ShouldNotBeNull().ShouldContain("'page' has not run");
        Templates.TryCompile("{{steps.page.output.key}}", out _, out _).ShouldBeTrue();
    }

    [Fact]
    public void CompileObject_ReportsEveryInvalidStringAtItsPointer()
    {
        var errors = new List<ManifestError>();

        var compiled = Templates.Compile(JsonNode.Parse("""{"a":"{{x}}","b":["ok","{{"],"c/d":{"e":"{{incident.nope}}"}}""")!.AsObject(), "/with", errors);

        compiled.ShouldBeNull();
        errors.Select(e => e.Path).ShouldBe(["/with/a", "/with/b/1", "/with/c~1d/e"]);
    }
}

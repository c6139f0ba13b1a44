using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Bulwark.TestUtils.Fakes;

/// <summary>An issue the fake Jira holds.</summary>
public sealed record JiraIssue(string Id, string Key, JsonObject Fields)
{
    public IReadOnlyList<string> Labels => Fields["labels"] is JsonArray labels ? [.. labels.Select(l => l!.GetValue<string>())] : [];
}

/// <summary>
/// Jira Cloud REST v3, the part tickets use, behind Basic auth (<c>email:api-token</c>): <c>POST /rest/api/3/issue</c>
/// (project key known, summary, issue type, a description in Atlassian Document Format, labels without spaces) answers
/// 201 <c>{"id","key","self"}</c>; <c>GET /rest/api/3/search/jql?jql=labels = "…"</c> answers
/// <c>{"issues":[{"id","key","self","fields"}],"isLast":true}</c>; the removed <c>GET /rest/api/3/search</c> answers
/// 410 as Jira Cloud does. <see cref="SearchLags"/> hides new issues from search, as Jira's eventually consistent search
/// can.
/// </summary>
public sealed partial class FakeJira : LoopbackFake
{
    private readonly Lock _gate = new();
    private readonly List<(JiraIssue Issue, bool Searchable)> _issues = [];

    private FakeJira(string email, string token, string project)
    {
        Email = email;
        Token = token;
        Project = project;
    }

    public string Email { get; }

    public string Token { get; }

    public string Project { get; }

    /// <summary>The connector secret: <c>email:api-token</c>.</summary>
    public string Secret => Email + ":" + Token;

    /// <summary>When set, issues created from now on are not found by search.</summary>
    public bool SearchLags { get; set; }

    public IReadOnlyList<JiraIssue> Issues
    {
        get
        {
            lock (_gate)
            {
                return [.. _issues.Select(i => i.Issue)];
            }
        }
    }

    public static Task<FakeJira> StartAsync(string email = "secops@example.com", string token = "ATATT3xFfGF0-jira-api-token", string project = "SEC") =>
        StartAsync(new FakeJira(email, token, project));

    protected override FakeAnswer Answer(RecordedRequest request)
    {
        var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(Secret));
        if (request.Header("Authorization") != expected)
        {
            return FakeAnswer.Json(401, Errors(["Client must be authenticated to access this resource."]));
        }

        return (request.Method, request.Path) switch
        {
            ("POST", "/rest/api/3/issue") => Create(request),
            ("GET", "/rest/api/3/search/jql") => Search(request),
            ("GET" or "POST", "/rest/api/3/search") => FakeAnswer.Json(410, Errors(
                ["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"])),
            _ => FakeAnswer.Json(404, Errors(["Not found"])),
        };
    }

    private FakeAnswer Create(RecordedRequest request)
    {
        JsonObject? fields;
        try
        {
            fields = (JsonNode.Parse(request.Body) as JsonObject)?["fields"] as JsonObject;
        }
        catch (JsonException)
        {
            fields = null;
        }

        if (fields is null)
        {
            return FakeAnswer.Json(400, Errors(["Unexpected body: fields is required."]));
        }

        var errors = new JsonObject();
        if (fields["project"]?["key"]?.GetValue<string>() != Project)
        {
            errors["project"] = "Specify a valid project ID or key";
        }

        if (fields["summary"] is not JsonValue summary || summary.GetValue<string>().Length is 0 or > 255)
        {
            errors["summary"] = "You must specify a summary of the issue.";
        }

        if (fields["issuetype"]?["name"] is null)
        {
            errors["issuetype"] = "Specify an issue type";
        }

        if (fields["description"] is not JsonObject description || !IsAdf(description))
        {
            errors["description"] = "Operation value must be an Atlassian Document (see the Atlassian Document Format)";
        }

        if (fields["labels"] is JsonArray labels && labels.Any(l => l is not JsonValue v || !v.TryGetValue<string>(out var t) || t.Length == 0 || t.Any(char.IsWhiteSpace)))
        {
            errors["labels"] = "The label can't contain spaces.";
        }

        if (errors.Count > 0)
        {
            return FakeAnswer.Json(400, new JsonObject { ["errorMessages"] = new JsonArray(), ["errors"] = errors });
        }

        lock (_gate)
        {
            var id = (10000 + _issues.Count).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var key = $"{Project}-{_issues.Count + 1}";
            _issues.Add((new JiraIssue(id, key, (JsonObject)fields.DeepClone()), !SearchLags));
            return FakeAnswer.Json(201, new JsonObject { ["id"] = id, ["key"] = key, ["self"] = Self(id) });
        }
    }

    private FakeAnswer Search(RecordedRequest request)
    {
        var query = System.Web.HttpUtility.ParseQueryString(request.Query);
        var match = LabelQuery().Match(query["jql"] ?? string.Empty);
        if (!match.Success)
        {
            return FakeAnswer.Json(400, Errors(["The fake understands labels = \"…\" only."]));
        }

        var label = match.Groups[1].Value.Replace("\\\"", "\"", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal);
        lock (_gate)
        {
            var found = _issues.Where(i => i.Searchable && i.Issue.Labels.Contains(label)).Select(i => (JsonNode)new JsonObject
            {
                ["id"] = i.Issue.Id,
                ["key"] = i.Issue.Key,
                ["self"] = Self(i.Issue.Id),
                ["fields"] = new JsonObject { ["summary"] = i.Issue.Fields["summary"]?.DeepClone() },
            });
            return FakeAnswer.Json(200, new JsonObject { ["issues"] = new JsonArray([.. found]), ["isLast"] = true });
        }
    }

    private string Self(string id) => new Uri(BaseAddress, "rest/api/3/issue/" + id).AbsoluteUri;

    /// <summary>A document node: <c>type: doc</c>, <c>version: 1</c>, content of typed nodes whose text runs are not empty.</summary>
    private static bool IsAdf(JsonObject doc) =>
        doc["type"]?.GetValue<string>() == "doc" && doc["version"]?.GetValue<int>() == 1 && doc["content"] is JsonArray content && content.All(IsNode);

    private static bool IsNode(JsonNode? node) => node is JsonObject obj && obj["type"] is JsonValue type && type.GetValue<string>() switch
    {
        "text" => obj["text"] is JsonValue text && text.GetValue<string>().Length > 0,
        _ => obj["content"] is null || (obj["content"] is JsonArray children && children.All(IsNode)),
    };

    private static JsonObject Errors(string[] messages) => new()
    {
        ["errorMessages"] = new JsonArray([.. messages.Select(m => (JsonNode)m)]),
        ["errors"] = new JsonObject(),
    };

    [GeneratedRegex("""^labels\s*=\s*"((?:[^"\\]|\\.)*)"$""")]
    private static partial Regex LabelQuery();
}

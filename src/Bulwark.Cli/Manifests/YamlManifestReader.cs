using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Bulwark.Manifests;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Bulwark.Cli.Manifests;

/// <summary>
/// Reads YAML manifest files (several documents per file, <c>---</c> between them) into JSON documents, remembering the
/// line of every value so that every error can name its file and line. Plain scalars are typed by the YAML 1.2 core
/// schema (null, booleans, integers, floats); quoted scalars are always strings. JSON files are read the same way.
/// </summary>
internal static partial class YamlManifestReader
{
    public static readonly string[] Extensions = [".yaml", ".yml", ".json"];

    /// <summary>Reads a file, or every manifest file below a directory (in path order).</summary>
    public static IReadOnlyList<ManifestDocument> ReadPath(string path, List<ManifestProblem> problems)
    {
        if (Directory.Exists(path))
        {
            var files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                .Where(f => Extensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal);
            return [.. files.SelectMany(f => ReadText(f, File.ReadAllText(f), problems))];
        }

        if (!File.Exists(path))
        {
            problems.Add(new ManifestProblem(path, 1, string.Empty, "no such file or directory"));
            return [];
        }

        return ReadText(path, File.ReadAllText(path), problems);
    }

    /// <summary>Reads the documents of one YAML text.</summary>
    public static IReadOnlyList<ManifestDocument> ReadText(string source, string text, List<ManifestProblem> problems)
    {
        var stream = new YamlStream();
        var parser = new TrackingParser(new Parser(new StringReader(text)));
        try
        {
            stream.Load(parser);
        }
        catch (YamlException error)
        {
            problems.Add(new ManifestProblem(source, (int)error.Start.Line, string.Empty, "not valid YAML: " + (error.InnerException?.Message ?? error.Message)));
            return [];
        }
#pragma warning disable CA1031 // YamlDotNet throws plain exceptions on some malformed input; every one is a problem of the file.
        catch (Exception error)
#pragma warning restore CA1031
        {
            problems.Add(new ManifestProblem(source, parser.LastLine, string.Empty, $"not valid YAML near here ({error.Message})"));
            return [];
        }

        var documents = new List<ManifestDocument>();
        foreach (var document in stream.Documents)
        {
            var root = document.RootNode;
            if (root is YamlScalarNode { Value: null or "" })
            {
                continue;
            }

            if (root is not YamlMappingNode mapping)
            {
                problems.Add(new ManifestProblem(source, (int)root.Start.Line, string.Empty, "a manifest must be a mapping with 'kind' and the object's fields"));
                continue;
            }

            var lines = new Dictionary<string, int>(StringComparer.Ordinal);
            var body = (JsonObject)Convert(mapping, string.Empty, lines)!;
            documents.Add(new ManifestDocument { Source = source, Line = (int)mapping.Start.Line, Body = body, Lines = lines });
        }

        return documents;
    }

    private static JsonNode? Convert(YamlNode node, string path, Dictionary<string, int> lines)
    {
        lines[path] = (int)node.Start.Line;
        switch (node)
        {
            case YamlMappingNode mapping:
                var obj = new JsonObject();
                foreach (var (keyNode, valueNode) in mapping.Children)
                {
                    var key = (keyNode as YamlScalarNode)?.Value ?? string.Empty;
                    var childPath = path + "/" + ManifestReader.Escape(key);
                    obj[key] = Convert(valueNode, childPath, lines);
                    lines[childPath] = (int)keyNode.Start.Line;
                }

                return obj;
            case YamlSequenceNode sequence:
                var array = new JsonArray();
                for (var i = 0; i < sequence.Children.Count; i++)
                {
                    array.Add(Convert(sequence.Children[i], $"{path}/{i}", lines));
                }

                return array;
            case YamlScalarNode scalar:
                return Scalar(scalar);
            default:
                return null;
        }
    }

    private static JsonValue? Scalar(YamlScalarNode scalar)
    {
        var value = scalar.Value ?? string.Empty;
        var tag = scalar.Tag.IsEmpty ? null : scalar.Tag.Value;
        if (scalar.Style != ScalarStyle.Plain || tag == "tag:yaml.org,2002:str")
        {
            return JsonValue.Create(value);
        }

        if (value is "" or "~" or "null" or "Null" or "NULL")
        {
            return null;
        }

        if (value is "true" or "True" or "TRUE")
        {
            return JsonValue.Create(true);
        }

        if (value is "false" or "False" or "FALSE")
        {
            return JsonValue.Create(false);
        }

        if (IntegerPattern().IsMatch(value) && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            return JsonValue.Create(integer);
        }

        if (FloatPattern().IsMatch(value) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            return JsonValue.Create(number);
        }

        return JsonValue.Create(value);
    }

    /// <summary>Remembers where the parser last was, to place errors that YamlDotNet raises without a position.</summary>
    private sealed class TrackingParser(IParser inner) : IParser
    {
        public int LastLine { get; private set; } = 1;

        public YamlDotNet.Core.Events.ParsingEvent? Current => inner.Current;

        public bool MoveNext()
        {
            var moved = inner.MoveNext();
            if (inner.Current is { } current)
            {
                LastLine = (int)current.End.Line;
            }

            return moved;
        }
    }

    [GeneratedRegex("^[-+]?[0-9]+$", RegexOptions.CultureInvariant)]
    private static partial Regex IntegerPattern();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$", RegexOptions.CultureInvariant)]
    private static partial Regex FloatPattern();
}

using System.Globalization;

namespace Bulwark.Flags;

/// <summary>
/// Semantic Versioning 2.0 precedence, over text, without allocating: <c>MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]</c>,
/// an optional leading <c>v</c>; build metadata is ignored; a pre-release sorts before its release; pre-release
/// identifiers compare numerically when both are numeric, else by ordinal text, numeric before text.
/// </summary>
public static class SemanticVersion
{
    /// <summary>Whether <paramref name="text"/> is a version this comparer understands.</summary>
    /// <param name="text">The text.</param>
    /// <returns><see langword="true"/> when valid.</returns>
    public static bool IsValid(ReadOnlySpan<char> text) => TryParse(text, out _, out _, out _, out _);

    /// <summary>Compares two versions by precedence.</summary>
    /// <param name="left">The first version.</param>
    /// <param name="right">The second version.</param>
    /// <param name="comparison">Negative, zero or positive, as <paramref name="left"/> is lower, equal or higher.</param>
    /// <returns>Whether both are valid versions.</returns>
    public static bool TryCompare(ReadOnlySpan<char> left, ReadOnlySpan<char> right, out int comparison)
    {
        comparison = 0;
        if (!TryParse(left, out var l0, out var l1, out var l2, out var lPre) || !TryParse(right, out var r0, out var r1, out var r2, out var rPre))
        {
            return false;
        }

        comparison = l0 != r0 ? l0.CompareTo(r0) : l1 != r1 ? l1.CompareTo(r1) : l2 != r2 ? l2.CompareTo(r2) : ComparePrerelease(lPre, rPre);
        return true;
    }

    private static bool TryParse(ReadOnlySpan<char> text, out long major, out long minor, out long patch, out ReadOnlySpan<char> prerelease)
    {
        major = minor = patch = 0;
        prerelease = default;
        if (text.Length > 0 && (text[0] == 'v' || text[0] == 'V'))
        {
            text = text[1..];
        }

        var plus = text.IndexOf('+');
        if (plus >= 0)
        {
            text = text[..plus];
        }

        var dash = text.IndexOf('-');
        if (dash >= 0)
        {
            prerelease = text[(dash + 1)..];
            text = text[..dash];
            if (prerelease.IsEmpty)
            {
                return false;
            }
        }

        var first = text.IndexOf('.');
        if (first < 0)
        {
            return false;
        }

        var rest = text[(first + 1)..];
        var second = rest.IndexOf('.');
        return second >= 0 &&
               TryNumber(text[..first], out major) &&
               TryNumber(rest[..second], out minor) &&
               TryNumber(rest[(second + 1)..], out patch);
    }

    private static bool TryNumber(ReadOnlySpan<char> text, out long value)
    {
        value = 0;
        return !text.IsEmpty && !text.ContainsAnyExceptInRange('0', '9') && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    private static int ComparePrerelease(ReadOnlySpan<char> left, ReadOnlySpan<char> right)
    {
        if (left.IsEmpty || right.IsEmpty)
        {
            return left.IsEmpty == right.IsEmpty ? 0 : left.IsEmpty ? 1 : -1;
        }

        while (true)
        {
            var leftDot = left.IndexOf('.');
            var rightDot = right.IndexOf('.');
            var l = leftDot < 0 ? left : left[..leftDot];
            var r = rightDot < 0 ? right : right[..rightDot];
            var lNumeric = TryNumber(l, out var ln);
            var rNumeric = TryNumber(r, out var rn);
            var order = (lNumeric, rNumeric) switch
            {
                (true, true) => ln.CompareTo(rn),
                (true, false) => -1,
                (false, true) => 1,
                _ => Math.Sign(l.SequenceCompareTo(r)),
            };
            if (order != 0)
            {
                return order;
            }

            if (leftDot < 0 || rightDot < 0)
            {
                return leftDot < 0 == rightDot < 0 ? 0 : leftDot < 0 ? -1 : 1;
            }

            left = left[(leftDot + 1)..];
            right = right[(rightDot + 1)..];
        }
    }
}

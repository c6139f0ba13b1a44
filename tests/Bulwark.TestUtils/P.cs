namespace Placeholder; internal static class P { }

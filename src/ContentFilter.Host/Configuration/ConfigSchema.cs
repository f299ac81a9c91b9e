using System.Collections;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace ContentFilter.Host.Configuration;

/// <summary>Checks a configuration tree against the option types: every key must exist and every value must convert.</summary>
/// <remarks>
/// The configuration binder silently ignores unknown keys, so a typo (<c>Spool:Directroy</c>) would quietly mean
/// "default". An admin gets the full key path instead: <c>Spool:Directroy: unknown key</c>.
/// </remarks>
public static class ConfigSchema
{
    /// <summary>Returns one message per problem, each starting with the full key path.</summary>
    public static List<string> Check(IConfiguration root, IReadOnlyDictionary<string, Type> sections, IReadOnlySet<string> rootScalars)
    {
        var errors = new List<string>();
        foreach (IConfigurationSection child in root.GetChildren())
        {
            if (rootScalars.Contains(child.Key))
            {
                continue;
            }
            if (!sections.TryGetValue(child.Key, out Type? type))
            {
                errors.Add($"{child.Path}: unknown key (known sections: {string.Join(", ", sections.Keys.Concat(rootScalars).Order())})");
                continue;
            }
            CheckNode(child, type, errors);
        }
        return errors;
    }

    private static void CheckNode(IConfigurationSection node, Type type, List<string> errors)
    {
        Type? underlying = Nullable.GetUnderlyingType(type);
        if (underlying is not null)
        {
            type = underlying;
        }
        if (IsScalar(type))
        {
            if (node.GetChildren().Any())
            {
                errors.Add($"{node.Path}: expected a single value, found a section");
                return;
            }
            if (node.Value is not null && !Converts(node.Value, type))
            {
                string allowed = type.IsEnum ? $" (one of: {string.Join(", ", Enum.GetNames(type))})" : string.Empty;
                errors.Add($"{node.Path}: '{node.Value}' is not a valid {FriendlyName(type)}{allowed}");
            }
            return;
        }
        Type? dictValue = DictionaryValueType(type);
        if (dictValue is not null)
        {
            foreach (IConfigurationSection child in node.GetChildren())
            {
                CheckNode(child, dictValue, errors);
            }
            return;
        }
        Type? element = ListElementType(type);
        if (element is not null)
        {
            foreach (IConfigurationSection child in node.GetChildren())
            {
                if (!int.TryParse(child.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                {
                    errors.Add($"{child.Path}: expected a list");
                    continue;
                }
                CheckNode(child, element, errors);
            }
            return;
        }
        if (node.Value is not null && !node.GetChildren().Any())
        {
            if (node.Value.Length > 0)
            {
                errors.Add($"{node.Path}: expected a section, found a value");
            }
            return;
        }
        var props = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && (p.CanWrite || !IsScalar(p.PropertyType)))
            .ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        foreach (IConfigurationSection child in node.GetChildren())
        {
            if (!props.TryGetValue(child.Key, out PropertyInfo? prop))
            {
                errors.Add($"{child.Path}: unknown key (known: {string.Join(", ", props.Keys.Order())})");
                continue;
            }
            CheckNode(child, prop.PropertyType, errors);
        }
    }

    private static bool IsScalar(Type t) =>
        t.IsPrimitive || t.IsEnum || t == typeof(string) || t == typeof(decimal) || t == typeof(TimeSpan) || t == typeof(Uri) || Nullable.GetUnderlyingType(t) is not null;

    private static bool Converts(string value, Type t)
    {
        if (t == typeof(string))
        {
            return true;
        }
        if (t.IsEnum)
        {
            return Enum.TryParse(t, value, ignoreCase: true, out _) && !int.TryParse(value, out _);
        }
        if (t == typeof(bool))
        {
            return bool.TryParse(value, out _);
        }
        if (t == typeof(TimeSpan))
        {
            return TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out _);
        }
        if (t == typeof(Uri))
        {
            return Uri.TryCreate(value, UriKind.RelativeOrAbsolute, out _);
        }
        try
        {
            Convert.ChangeType(value, t, CultureInfo.InvariantCulture);
            return true;
        }
        catch (Exception ex) when (ex is FormatException or OverflowException or InvalidCastException)
        {
            return false;
        }
    }

    private static string FriendlyName(Type t) => t switch
    {
        _ when t == typeof(int) || t == typeof(long) => "whole number",
        _ when t == typeof(double) => "number",
        _ when t == typeof(bool) => "true/false",
        _ when t == typeof(TimeSpan) => "time span (hh:mm:ss)",
        _ => t.Name,
    };

    private static Type? DictionaryValueType(Type t)
    {
        Type? i = t.IsGenericType && t.GetGenericTypeDefinition() == typeof(IDictionary<,>) ? t
            : t.GetInterfaces().FirstOrDefault(x => x.IsGenericType && x.GetGenericTypeDefinition() == typeof(IDictionary<,>));
        i ??= t.IsGenericType && t.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>) ? t : null;
        return i?.GetGenericArguments()[1];
    }

    private static Type? ListElementType(Type t)
    {
        if (t.IsArray)
        {
            return t.GetElementType();
        }
        if (t == typeof(string) || !typeof(IEnumerable).IsAssignableFrom(t))
        {
            return null;
        }
        Type? i = t.IsGenericType && t.GetGenericArguments().Length == 1 ? t : t.GetInterfaces().FirstOrDefault(x => x.IsGenericType && x.GetGenericTypeDefinition() == typeof(IEnumerable<>));
        return i?.GetGenericArguments()[0];
    }
}

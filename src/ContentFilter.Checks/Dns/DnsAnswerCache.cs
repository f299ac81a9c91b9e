namespace ContentFilter.Checks.Dns;

/// <summary>A small LRU cache of DNS answers that honours each answer's TTL.</summary>
/// <remarks>
/// Bounded so that a flood of mail from random domains cannot grow memory; TempError answers are never cached
/// (a retry must really ask again, RFC 2308 §7 allows at most five minutes and we choose none).
/// </remarks>
internal sealed class DnsAnswerCache
{
    private readonly int _capacity;
    private readonly TimeProvider _time;
    private readonly Dictionary<(string Name, int Type), LinkedListNode<Entry>> _map = new();
    private readonly LinkedList<Entry> _lru = new();
    private readonly Lock _lock = new();

    public DnsAnswerCache(int capacity, TimeProvider time)
    {
        _capacity = capacity;
        _time = time;
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _map.Count;
            }
        }
    }

    public bool TryGet(string name, int type, out object? answer)
    {
        answer = null;
        if (_capacity == 0)
        {
            return false;
        }
        var key = (name, type);
        lock (_lock)
        {
            if (!_map.TryGetValue(key, out LinkedListNode<Entry>? node))
            {
                return false;
            }
            if (node.Value.Expires <= _time.GetUtcNow())
            {
                _lru.Remove(node);
                _map.Remove(key);
                return false;
            }
            _lru.Remove(node);
            _lru.AddFirst(node);
            answer = node.Value.Answer;
            return true;
        }
    }

    public void Set(string name, int type, object answer, TimeSpan ttl)
    {
        if (_capacity == 0 || ttl <= TimeSpan.Zero)
        {
            return;
        }
        var key = (name, type);
        var entry = new Entry(key, answer, _time.GetUtcNow() + ttl);
        lock (_lock)
        {
            if (_map.TryGetValue(key, out LinkedListNode<Entry>? old))
            {
                _lru.Remove(old);
            }
            else if (_map.Count >= _capacity)
            {
                LinkedListNode<Entry> last = _lru.Last!;
                _lru.RemoveLast();
                _map.Remove(last.Value.Key);
            }
            _map[key] = _lru.AddFirst(entry);
        }
    }

    private sealed record Entry((string Name, int Type) Key, object Answer, DateTimeOffset Expires);
}

namespace Backup.Network.Switching;

/// <summary>A token bucket: <c>rate</c> tokens per second, at most <c>capacity</c> saved. Thread-safe.</summary>
internal sealed class TokenBucket
{
    private readonly Lock _gate = new();
    private readonly double _rate;
    private readonly double _capacity;
    private readonly TimeProvider _time;
    private double _tokens;
    private long _last;

    public TokenBucket(double rate, double capacity, TimeProvider time)
    {
        _rate = rate;
        _capacity = capacity;
        _time = time;
        _tokens = capacity;
        _last = time.GetTimestamp();
    }

    /// <summary>Takes one token; false when the bucket is empty.</summary>
    public bool TryTake()
    {
        lock (_gate)
        {
            long now = _time.GetTimestamp();
            double elapsed = (now - _last) / (double)_time.TimestampFrequency;
            _last = now;
            _tokens = Math.Min(_capacity, _tokens + (elapsed * _rate));
            if (_tokens < 1)
            {
                return false;
            }

            _tokens -= 1;
            return true;
        }
    }
}

"""The token bucket and the flood guard, driven by an explicit clock."""

from realtime.limits import RateLimiter


def test_burst_then_steady_rate():
    limiter = RateLimiter(rate=20, burst=40, flood=100)
    assert all(limiter.allow(now=0.0) for _ in range(40))
    assert not limiter.allow(now=0.0)
    assert limiter.allow(now=0.05)  # 0.05 s at 20/s refills one token
    assert not limiter.allow(now=0.05)


def test_bucket_never_holds_more_than_the_burst():
    limiter = RateLimiter(rate=20, burst=40, flood=100)
    limiter.allow(now=0.0)
    allowed = sum(limiter.allow(now=3600.0) for _ in range(100))
    assert allowed == 40


def test_flooding_is_more_than_the_limit_within_one_second():
    limiter = RateLimiter(rate=20, burst=40, flood=100)
    assert not any(limiter.is_flooding(now=n / 1000) for n in range(100))
    assert limiter.is_flooding(now=0.5)


def test_the_same_count_spread_over_more_than_a_second_is_not_flooding():
    limiter = RateLimiter(rate=20, burst=40, flood=100)
    assert not any(limiter.is_flooding(now=n * 0.011) for n in range(300))

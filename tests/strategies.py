"""The test suite's strategies are the public ones: ``tinycnn.testing.strategies`` (one copy)."""

from tinycnn.testing.strategies import (  # noqa: F401
    LAYOUTS,
    ConvConfig,
    PoolConfig,
    conv_configs,
    images,
    make_input,
    pool_configs,
)

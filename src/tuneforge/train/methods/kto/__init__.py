"""KTO, on labelled replies."""

from tuneforge.train.methods.kto.config import KTOConfig
from tuneforge.train.methods.method import Method

METHOD = Method(
    config=KTOConfig,
    data="kto",
    recipe=f"{__name__}.recipe:train_kto",
    summary="KTO: replies labelled desirable or not, against a KL reference point.",
)

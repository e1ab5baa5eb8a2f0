"""scikit-learn transformers over the M5 long frame.

``CalendarMerger -> PriceJoiner -> LevelAggregator`` turn the wide M5 sales
table into the long frame of :mod:`m5kit._schema`; ``Windower`` cuts one
group's long frame into model windows.
"""

from m5kit.transformers.aggregate import LevelAggregator
from m5kit.transformers.calendar import CalendarMerger, EventTypeWarning
from m5kit.transformers.prices import PriceJoiner
from m5kit.transformers.windows import Windower

__all__ = ["CalendarMerger", "EventTypeWarning", "LevelAggregator", "PriceJoiner", "Windower"]

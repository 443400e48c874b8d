"""Entry point after every reset: run one wake, then deep sleep (boot.py does nothing else)."""
import board as _board
from wake.cycle import run

run(_board.load())

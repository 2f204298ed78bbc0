"""`tuneforge plan`: should you fine-tune, what will it cost, will it fit (plan/run.py)."""

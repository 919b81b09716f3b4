"""The paper's claims, as checks over a figure's summary table: what it states, the number
it gives, and the criterion a reproduction is judged by (engine: `analysis/claims.py`)."""

"""OrderHub's domain: plain Python, no AWS libraries, no environment reads."""

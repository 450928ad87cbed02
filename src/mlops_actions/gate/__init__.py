"""What the gate judges with: baselines to compare against and the rules that decide."""

"""craftlab agents: from-scratch course algorithms and Stable-Baselines3 agents."""

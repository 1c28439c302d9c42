"""Running an agent: training and resuming, evaluation rollouts, scores. Imports core, envs, datasets, agents."""

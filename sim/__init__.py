"""attnhw simulation: stream helpers, cocotb testbenches and their runners."""

"""Allocate learners to work placements: `placement-problem/1` in, `placement-result/1` out."""

from .allocate import solve
from .problem import Problem, ProblemError, load_problem, parse_problem

__all__ = ["Problem", "ProblemError", "load_problem", "parse_problem", "solve"]

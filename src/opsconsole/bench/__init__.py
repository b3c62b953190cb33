"""Benchmarks behind `opsconsole bench ...`: each fills a real store and prints figures."""

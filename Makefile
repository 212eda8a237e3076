.PHONY: demo test bench

demo:  ## set up a fresh machine and run the demo on SQLite
	scripts/demo.sh

test:  ## set up a fresh machine and run the whole suite on SQLite and PostgreSQL
	scripts/test.sh

bench: ## run the benchmarks in bench/
	scripts/bench.sh

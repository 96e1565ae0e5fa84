# Reference MSGin5G Server (tools/server/m5server; API and resources in its __init__.py).
#   make server                       127.0.0.1:5683, groups from tools/server/groups.json
#   make server SERVER_ARGS="--quiet --devices tools/server/devices.example.json"
#   tools/m5as send as-1 ue-0001@msgin5g.example.net hello   (application-server CLI)
SERVER_HOST ?= 127.0.0.1
SERVER_PORT ?= 5683
SERVER_ARGS ?=

.PHONY: server
server: setup
	PYTHONPATH=tools/server exec $(PY) -m m5server --host $(SERVER_HOST) --port $(SERVER_PORT) --groups tools/server/groups.json $(SERVER_ARGS)

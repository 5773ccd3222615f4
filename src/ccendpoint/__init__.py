"""ccendpoint: third-party LLM providers in VS Code Copilot Chat's Custom Endpoint."""

__version__ = "0.1.0"

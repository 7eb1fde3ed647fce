"""Editor integration: the ACP agent over stdio."""

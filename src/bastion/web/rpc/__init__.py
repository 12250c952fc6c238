"""The external API: Odoo's XML-RPC and JSON-RPC, `/json/2`, and the call dispatch they share."""

"""Label stage: region, agencies and topics for parsed articles."""

"""Who may do what in the warehouse: the components' roles and the regional analysts' logins."""
